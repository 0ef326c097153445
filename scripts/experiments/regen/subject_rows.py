# The forget cities' embedding rows ranked against the retain cities' per-country centroids by cosine (does a row
# say its country?). Usage: python3 scripts/experiments/regen/subject_rows.py WORLD NAME=MODEL_DIR…
import json,sys,struct,numpy as np
def load(d):
    b=open(d+'/model.safetensors','rb').read(); n=struct.unpack('<Q',b[:8])[0]; h=json.loads(b[8:8+n])
    m=h['model.embed_tokens.weight']; s,e=m['data_offsets']; assert m['dtype']=='F32'
    return np.frombuffer(b[8+n+s:8+n+e],dtype=np.float32).reshape(m['shape'])
W=sys.argv[1]
vocab=json.load(open(W+'/tokenizer.json'))['model']['vocab']
facts=[json.loads(l) for l in open(W+'/facts.jsonl')]
cc=[f for f in facts if f['relation']=='city_country']
forget=[f for f in cc if f['split']=='forget']; retain=[f for f in cc if f['split']!='forget']
countries=sorted(set(f['object'] for f in cc))
for spec in sys.argv[2:]:
    name,d=spec.split('=');E=load(d)
    En=E/np.linalg.norm(E,axis=1,keepdims=True)
    cent={k:np.mean([En[vocab[' '+f['subject']]] for f in retain if f['object']==k],axis=0) for k in countries if any(f['object']==k for f in retain)}
    ks=list(cent); C=np.stack([cent[k]/np.linalg.norm(cent[k]) for k in ks])
    ranks=[]
    for f in forget:
        s=C@En[vocab[' '+f['subject']]]; t=s[ks.index(f['object'])]
        ranks.append(1+(s>t).sum())
    # retain leave-one-out sanity: rank of own country for retain cities
    print(name,'forget city rows: true-country rank by centroid cosine mean %.2f (chance %.1f of %d)'%(np.mean(ranks),(len(ks)+1)/2,len(ks)), 'top1', sum(r==1 for r in ranks))
