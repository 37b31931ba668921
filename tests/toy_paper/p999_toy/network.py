"""The toy network: three convolutions predicting the noise residual."""

from torch import nn

from denoisebench.models import MODELS


@MODELS.register("toynet")
class ToyNet(nn.Module):
    def __init__(self, channels: int = 3, features: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, features, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(features, features, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(features, channels, 3, padding=1))

    def residual(self, x):
        return self.body(x)

    def forward(self, x):
        return x - self.residual(x)
