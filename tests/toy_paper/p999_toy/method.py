"""The toy method: DnCNN's training and inference with the toy network."""

from typing import Any

from denoisebench.methods.base import METHODS
from denoisebench.methods.dncnn import DnCNNMethod


@METHODS.register("toy")
class ToyMethod(DnCNNMethod):
    name = "toy"
    paper = "toy"
    display_name = "Toy net"

    def build_network(self) -> Any:
        from denoisebench.models import build_model

        return build_model("toynet", channels=self.params["channels"])
