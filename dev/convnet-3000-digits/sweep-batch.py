"""The third sweep of README.md: do smaller batches (more steps in 2 epochs) or wider filters get
there? The example's layout (conv 5x5 valid, ReLU, max-pool 2, twice, dense 10), 2 epochs,
mean and worst held-out accuracy. Usage: node dev/convnet-3000-digits/dump.mjs DIR;
python sweep-batch.py DIR 0 & python sweep-batch.py DIR 1 (the two halves of the grid)."""
import numpy as np, torch, torch.nn as nn, sys
D = sys.argv[1]
torch.set_num_threads(1)
X=torch.tensor(np.fromfile(D+'/train-x.bin',dtype=np.float32).reshape(-1,1,28,28)); Y=torch.tensor(np.fromfile(D+'/train-y.bin',dtype=np.uint8).astype(np.int64))
TX=torch.tensor(np.fromfile(D+'/test-x.bin',dtype=np.float32).reshape(-1,1,28,28)); TY=torch.tensor(np.fromfile(D+'/test-y.bin',dtype=np.uint8).astype(np.int64))
def net(f1,f2):
    m=nn.Sequential(nn.Conv2d(1,f1,5),nn.ReLU(),nn.MaxPool2d(2),nn.Conv2d(f1,f2,5),nn.ReLU(),nn.MaxPool2d(2),nn.Flatten(),nn.Linear(f2*16,10))
    for mod in m:
        if isinstance(mod,nn.Conv2d): nn.init.kaiming_normal_(mod.weight); nn.init.zeros_(mod.bias)
        elif isinstance(mod,nn.Linear): nn.init.xavier_uniform_(mod.weight); nn.init.zeros_(mod.bias)
    return m
def run(f1,f2,bs,o,lr,seed):
    torch.manual_seed(seed); m=net(f1,f2)
    opt = torch.optim.SGD(m.parameters(), lr) if o=='sgd' else torch.optim.SGD(m.parameters(), lr, momentum=0.9) if o=='mom' else torch.optim.Adam(m.parameters(), lr)
    for ep in range(2):
        perm=torch.randperm(3000)
        for i in range(0,3000,bs):
            idx=perm[i:i+bs]; opt.zero_grad(); loss=nn.functional.cross_entropy(m(X[idx]),Y[idx]); loss.backward(); opt.step()
    with torch.no_grad(): return (m(TX).argmax(1)==TY).float().mean().item()*100
cfgs=[]
for bs in [16,32]:  # the example's 8/16 filters, 6 seeds
  for o,lr in [('sgd',0.1),('sgd',0.05),('adam',0.003),('adam',0.001),('mom',0.01)]:
    cfgs.append((8,16,bs,o,lr,6))
for f1,f2,bs in [(16,32,32),(32,64,32),(16,32,16),(32,64,64)]:  # wider, 4 seeds
  for o,lr in [('adam',0.003),('adam',0.002),('mom',0.03)]:
    cfgs.append((f1,f2,bs,o,lr,4))
part=int(sys.argv[2]); cfgs=cfgs[part::2]
for *c,seeds in cfgs:
    a=[run(*c,s) for s in range(seeds)]
    print(f"{c[0]}/{c[1]} batch {c[2]} {c[3]} {c[4]}: mean {np.mean(a):.1f} min {np.min(a):.1f}", flush=True)
