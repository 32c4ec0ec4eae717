"""The second sweep of README.md: 4 seeds each, the example's layout (conv 5x5 valid, ReLU, max-pool 2,
twice, dense 10) with 8/16 and 16/32 filters, under higher learning rates and other optimizers, with
and without inputs standardised as (x - 0.1307) / 0.3081. Usage: node dev/convnet-3000-digits/dump.mjs
DIR; python sweep-optimizers.py DIR."""
import numpy as np, torch, torch.nn as nn, sys
D = sys.argv[1]
torch.set_num_threads(1)
X=torch.tensor(np.fromfile(D+'/train-x.bin',dtype=np.float32).reshape(-1,1,28,28)); Y=torch.tensor(np.fromfile(D+'/train-y.bin',dtype=np.uint8).astype(np.int64))
TX=torch.tensor(np.fromfile(D+'/test-x.bin',dtype=np.float32).reshape(-1,1,28,28)); TY=torch.tensor(np.fromfile(D+'/test-y.bin',dtype=np.uint8).astype(np.int64))
def net(f1,f2,norm):
    L=[nn.Conv2d(1,f1,5),nn.ReLU(),nn.MaxPool2d(2),nn.Conv2d(f1,f2,5),nn.ReLU(),nn.MaxPool2d(2),nn.Flatten(),nn.Linear(f2*16,10)]
    m=nn.Sequential(*L)
    for mod in m:
        if isinstance(mod,nn.Conv2d): nn.init.kaiming_normal_(mod.weight); nn.init.zeros_(mod.bias)
        elif isinstance(mod,nn.Linear): nn.init.xavier_uniform_(mod.weight); nn.init.zeros_(mod.bias)
    return m
def run(f1,f2,o,lr,norm,seed):
    torch.manual_seed(seed); m=net(f1,f2,norm)
    opt = torch.optim.SGD(m.parameters(), lr) if o=='sgd' else torch.optim.SGD(m.parameters(), lr, momentum=0.9) if o=='mom' else torch.optim.Adam(m.parameters(), lr) if o=='adam' else torch.optim.RMSprop(m.parameters(), lr)
    f=(lambda x:(x-0.1307)/0.3081) if norm else (lambda x:x)
    for ep in range(2):
        perm=torch.randperm(3000)
        for i in range(0,3000,64):
            idx=perm[i:i+64]; opt.zero_grad(); loss=nn.functional.cross_entropy(m(f(X[idx])),Y[idx]); loss.backward(); opt.step()
    with torch.no_grad(): return (m(f(TX)).argmax(1)==TY).float().mean().item()*100
for f1,f2 in [(8,16),(16,32)]:
  for norm in [False,True]:
    for o,lr in [('adam',0.005),('adam',0.01),('adam',0.02),('mom',0.1),('sgd',0.4),('rms',0.002)]:
      a=[run(f1,f2,o,lr,norm,s) for s in range(4)]
      print(f"{f1}/{f2} norm{int(norm)} {o} {lr}: mean {np.mean(a):.1f} min {np.min(a):.1f}", flush=True)
