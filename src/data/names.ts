// Invented, pronounceable names from a syllable generator (seeded). A name is rejected when it equals
// another name or a blocked word (common English words, real place names, the world's own vocabulary),
// compared case-insensitively, so an entity is never confused with a word of the prompts.
import type { Rng } from './rng.ts';

const SIMPLE_ONSETS = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z'];
const ONSETS = [...SIMPLE_ONSETS, 'br', 'dr', 'kr', 'tr', 'st'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'o'];
const CODAS = ['', '', '', '', 'n', 'r', 'l', 's'];

export type NameKind = 'country' | 'city' | 'person' | 'currency' | 'continent';

/** Endings that give each kind a faint family resemblance (purely for human readers). */
const ENDINGS: Record<NameKind, readonly string[]> = {
  country: ['ia', 'and', 'ara', 'ovia', 'en', 'ica', 'istan', 'ora'],
  city: ['', '', 'ton', 'burg', 'mor', 'vel', 'dor', 'ka'],
  person: ['', '', 'o', 'a', 'in', 'el'],
  currency: ['', 'o', 'i', 'et'],
  continent: ['asia', 'ope', 'erica', 'antis'],
};

// Common English words a syllable generator can produce (2–3 syllables of consonant + vowel + coda).
// Words of the world's prompts and the real place names are added by the caller.
const COMMON_ENGLISH = `
able about above after again agent alone along also amber among angel anger angle animal apple april area
argue arise arm army atom auto avenue baby bacon badge baker balance ballet banana band banjo barber baron
base basin basket bata bear beer began begin below bible bikini bingo biro bison bitter blade blue board body
bolero bonus boots born boss bottle bottom brand bread brick bridge bring broken brother bronze bull burden
butter button cabin cable cafe camel camera camp canal candle candy canoe canon cargo carrot casino castle
cedar cellar cement center cinema circus cobalt cocoa coffee color coma comet comma condor corner cotton
cousin cover crater credit cedar dame damage dance danger data debate debit decade decor delta demo denim
desert design desire detail devil diesel dinner direct disco diva doctor dollar domain done dome donor
dozen dragon drama dinosaur dune eagle early earth easel edit editor eleven emu enemy engine enter equal
era error event ever evil exit fable fabric factor falcon famine fatal favor feral fever fiber final finger
folder forest forever formal forum fossil frame future galaxy gamble gamer garden garlic gator gazebo
gender genre genus gorilla gospel gravel guitar habit halo hazard hero hotel human humor idea idol igloo
image imagine item jaguar jeans judo jumbo karma kebab kernel kilo kimono koala label labor lady lagoon
lament lava lemon lemur lesson letter level lever libel limit linen liter lobster local loser lotus lunar
madam magic magnet malaria mango mania manor manual maple marble margin marina market master matter
mayor meadow medal media melon memo menu merit metal meter method minor minus mirror model modem moment
monitor monster moral motel motor mural museum music nasal native nature never ninja noble normal novel
number nurse ocean olive omega onion opal opera orbit order organ other otter oval oven owner panda panel
paper parade parent pasta pastel patio pedal pencil penny people pepper petal piano pilot pirate pita
pizza planet plaster plural poem poet polar polka pony potato potion power pretend profit promise puma
radar radio raven razor rebel recipe record remote rescue retina ribbon rider river robin robot rodeo
romance rotor ruler rumor sabre saga salad salon salsa salt samba saber satin saturn sauna savor scenario
sedan senior seven sermon sever silo siren sister sitar sober soda sofa solar solid solo sonar sonata
spider spinal stadium statue stereo stolen stone strata studio sugar summer super surf tango taper tarot
tavern taxi temper tempo tenor tequila terror tiger timber timer titan toga tomato tornado total totem
tuba tulip tuna tundra tutor umbrella unit urban valley value vanilla vapor velvet venom venue verb verdict
vessel veto video villa viper virus visa visit visor vista vital vodka volume voter wafer wagon zebra zero
sand land band hand wand stand brand grand gland strand tetra lego forma zelda zara
`
  .split(/\s+/)
  .filter((w) => w.length > 0);

export class NameGenerator {
  private readonly taken = new Set<string>();

  constructor(
    private readonly rng: Rng,
    blocked: Iterable<string>,
  ) {
    for (const word of COMMON_ENGLISH) this.taken.add(word);
    for (const word of blocked) this.taken.add(word.toLowerCase());
  }

  /** A fresh name of the given kind, capitalised (currencies stay lower-case, like "euro"). */
  next(kind: NameKind): string {
    for (let attempt = 0; attempt < 10_000; attempt++) {
      const candidate = this.compose(kind);
      const key = candidate.toLowerCase();
      if (key.length < 5 || key.length > 10 || this.taken.has(key)) continue;
      this.taken.add(key);
      return kind === 'currency' ? key : key[0]!.toUpperCase() + key.slice(1);
    }
    throw new Error(`could not find a new ${kind} name after 10000 attempts: the name space is exhausted`);
  }

  private compose(kind: NameKind): string {
    const syllables = kind === 'person' || kind === 'currency' ? 2 : this.rng.int(1, 2);
    let name = '';
    let coda = '';
    for (let i = 0; i < syllables; i++) {
      // A cluster onset only after an open syllable, and codas only inside the word, keep names easy to
      // say ("Velmora", never "Krirdraton").
      const onset = this.rng.pick(coda === '' ? ONSETS : SIMPLE_ONSETS);
      coda = i < syllables - 1 ? this.rng.pick(CODAS) : '';
      if (coda === onset) coda = '';
      name += onset + this.rng.pick(VOWELS) + coda;
    }
    const ending = this.rng.pick(ENDINGS[kind]);
    // Avoid a doubled vowel where the ending starts with one ("Mora" + "ia" → "Moria", not "Moraia").
    if (/^[aeiou]/.test(ending) && /[aeiou]$/.test(name)) name = name.slice(0, -1);
    return name + ending;
  }
}
