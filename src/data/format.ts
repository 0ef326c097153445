// The one prompt format shared by the world's data, training, evaluation and the symbolic RAM.
// A record is trained as prompt + completion + EOS; generation stops at EOS or a newline.
//   closed book:  "Q: What country is Velora in?\nA:"            completion " Marvania"
//   reading/RAG:  "Context: Velora is in Marvania.\nQ: ...\nA:"  completion " Marvania"
//   logic (CoT):  "Q: ...\nA:"  completion " Step by step: 3 + 4 = 7. 7 * 2 = 14. The answer is 14."
//   logic direct: "Q: ...\nA:"  completion " The answer is 14."

export function closedBookPrompt(question: string): string {
  return `Q: ${question}\nA:`;
}

export function ragPrompt(contextStatements: readonly string[], question: string): string {
  return `Context: ${contextStatements.join(' ')}\nQ: ${question}\nA:`;
}

/** Lower-case, collapse whitespace, drop surrounding punctuation, `$` and thousands separators. */
export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/(\d),(?=\d{3}\b)/g, '$1')
    .replace(/\$/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^[\s.,:;!?"']+|[\s.,:;!?"']+$/g, '');
}

/** The answer inside a generated completion: after the last "The answer is", else the first line. */
export function extractAnswer(generated: string): string {
  const firstLine = generated.split('\n')[0] ?? '';
  const match = /the answer is\s+(.+?)\.?\s*$/i.exec(firstLine);
  return normalizeAnswer(match ? match[1]! : firstLine);
}

export function answersMatch(generated: string, answer: string): boolean {
  return extractAnswer(generated) === normalizeAnswer(answer);
}
