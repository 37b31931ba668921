"""Strategy 2 of seed 000: task switching (the paper's Algorithm 2, "alternate optimisation").

The shared network (trunk) gets one output layer per sub-task (Fig. 2: "each output corresponds to the DCNN
utilizing a different loss"); the task heads are copies of the network's own output layer, initialised
identically, and the network's own layer is the head of task 0 (the MSE), which is the one used at test time.
The schedule picks the task of each step: ``order[((step - 1) // switch_every) % len(order)]``, i.e. round-robin
per mini-batch with ``switch_every = 1`` (method-specs 3(c)) or in blocks of ``switch_every`` steps (e.g. one
epoch). Each step updates the trunk and the active head with the active task's loss only.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from torch import nn

from denoisebench.errors import ConfigError


class TaskSwitcher(nn.Module):
    """The switching schedule and the extra task heads.

    Args:
        tasks: all task names; ``tasks[0]`` (the MSE) uses the network's own output layer.
        head: the network's output layer, copied for every other task.
        order: the visiting order (names from ``tasks``; repeats allowed, e.g. ``[mse, ssim, mse, kl]``);
            default: ``tasks``.
        switch_every: consecutive steps spent on one task before switching.
    """

    def __init__(self, tasks: Sequence[str], head: nn.Module, order: Sequence[str] | None = None,
                 switch_every: int = 1) -> None:
        super().__init__()
        self.tasks = tuple(tasks)
        self.order = tuple(order) if order else self.tasks
        unknown = sorted(set(self.order) - set(self.tasks))
        if unknown or not self.order:
            raise ConfigError(f"task switching: order {list(self.order)} must name tasks of {list(self.tasks)}")
        if isinstance(switch_every, bool) or not isinstance(switch_every, int) or switch_every < 1:
            raise ConfigError(f"task switching: switch_every={switch_every!r} must be an integer >= 1")
        self.switch_every = switch_every
        self.heads = nn.ModuleDict({t: copy.deepcopy(head) for t in self.tasks[1:]})

    def task_at(self, step: int) -> str:
        """The task optimised at training step ``step`` (1-based, as the trainer counts)."""
        return self.order[((step - 1) // self.switch_every) % len(self.order)]

    def head_for(self, task: str) -> nn.Module | None:
        """The head of ``task``; None for task 0 (the network's own output layer)."""
        return None if task == self.tasks[0] else self.heads[task]

    def schedule(self, steps: int, start: int = 1) -> list[str]:
        """The tasks of steps ``start .. start + steps - 1``."""
        return [self.task_at(s) for s in range(start, start + steps)]
