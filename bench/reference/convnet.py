"""
The convnet of examples/convnet.js: conv 5x5x8 relu, maxpool 2, conv 5x5x16 relu,
maxpool 2, flatten, dense 10, log-softmax + NLL; SGD; batch 64; data preloaded,
one thread. See common.py. lr 0.15 (the learning rate does not change the step's cost).
"""
import torch.nn as nn

from common import main

if __name__ == '__main__':
    main(
        'convnet conv5x5x8-pool-conv5x5x16-pool-dense10',
        lambda: nn.Sequential(
            nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 4 * 4, 10), nn.LogSoftmax(dim=1),
        ),
        lr=0.15,
        shape=(-1, 1, 28, 28),
    )
