"""The PyTorch tutorial's MLP (784-128-64-10, ReLU, ReLU, LogSoftmax; NLL; SGD lr 0.003; batch 64), data preloaded, one thread. See common.py."""
import torch.nn as nn

from common import main

if __name__ == '__main__':
    main(
        'mlp 784-128-64-10',
        lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10), nn.LogSoftmax(dim=1)),
        lr=0.003,
        shape=(-1, 784),
    )
