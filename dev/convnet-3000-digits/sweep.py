"""How far 2 epochs of batch 64 (94 steps) on 3000 MNIST digits take a small convnet, on the
1000 held-out digits of test/cli-files.test.ts: PyTorch, 4 seeds per configuration, the
architectures the tape-free replica writes out (conv 5x5 valid or 3x3 same, ReLU, max-pool 2,
twice, optional dense 128 ReLU, dense 10), SGD, SGD with momentum 0.9, Adam.
Usage: node dev/convnet-3000-digits/dump.mjs DIR; python sweep.py DIR 0 & python sweep.py DIR 1
(the two halves of the grid). Results: README.md beside this file."""
import numpy as np, torch, torch.nn as nn, sys
D = sys.argv[1]
torch.set_num_threads(1)
X=torch.tensor(np.fromfile(D+'/train-x.bin',dtype=np.float32).reshape(-1,1,28,28)); Y=torch.tensor(np.fromfile(D+'/train-y.bin',dtype=np.uint8).astype(np.int64))
TX=torch.tensor(np.fromfile(D+'/test-x.bin',dtype=np.float32).reshape(-1,1,28,28)); TY=torch.tensor(np.fromfile(D+'/test-y.bin',dtype=np.uint8).astype(np.int64))
def net(cfg):
    f1,f2,d,k,pad=cfg['f1'],cfg['f2'],cfg['dense'],cfg['k'],cfg['pad']
    p = k//2 if pad else 0
    L=[nn.Conv2d(1,f1,k,padding=p),nn.ReLU(),nn.MaxPool2d(2),nn.Conv2d(f1,f2,k,padding=p),nn.ReLU(),nn.MaxPool2d(2),nn.Flatten()]
    side = 28
    side = (side - (0 if pad else k-1))//2; side=(side-(0 if pad else k-1))//2
    n=f2*side*side
    if d: L+= [nn.Linear(n,d),nn.ReLU()]; n=d
    L.append(nn.Linear(n,10))
    m=nn.Sequential(*L)
    for mod in m:
        if isinstance(mod,nn.Conv2d) or (isinstance(mod,nn.Linear) and mod.out_features!=10): nn.init.kaiming_normal_(mod.weight); nn.init.zeros_(mod.bias)
        elif isinstance(mod,nn.Linear): nn.init.xavier_uniform_(mod.weight); nn.init.zeros_(mod.bias)
    return m
def run(cfg, seed):
    torch.manual_seed(seed); m=net(cfg)
    o=cfg['opt']; lr=cfg['lr']
    opt = torch.optim.SGD(m.parameters(), lr) if o=='sgd' else torch.optim.SGD(m.parameters(), lr, momentum=0.9) if o=='mom' else torch.optim.Adam(m.parameters(), lr)
    for ep in range(2):
        perm=torch.randperm(3000)
        for i in range(0,3000,64):
            idx=perm[i:i+64]; opt.zero_grad(); loss=nn.functional.cross_entropy(m(X[idx]),Y[idx]); loss.backward(); opt.step()
    with torch.no_grad(): return (m(TX).argmax(1)==TY).float().mean().item()*100
cfgs=[]
for f1,f2 in [(8,16),(16,32),(32,64)]:
  for d in [0,128]:
    for k,pad in [(5,False),(3,True)]:
      for o,lr in [('sgd',0.2),('mom',0.05),('mom',0.02),('adam',0.003),('adam',0.001)]:
        cfgs.append(dict(f1=f1,f2=f2,dense=d,k=k,pad=pad,opt=o,lr=lr))
part=int(sys.argv[2]); cfgs=cfgs[part::2]
for c in cfgs:
    a=[run(c,s) for s in range(4)]
    print(f"{c['f1']}/{c['f2']} d{c['dense']} k{c['k']}{'s' if c['pad'] else 'v'} {c['opt']} {c['lr']}: mean {np.mean(a):.1f} min {np.min(a):.1f}", flush=True)
