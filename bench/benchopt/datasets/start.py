"""The sweep's fixed start point, x0 = [-0.5, -0.5] (experiment/task.yaml)."""

import numpy as np
from benchopt import BaseDataset


class Dataset(BaseDataset):
    name = "start"

    def get_data(self):
        # Fixed, as in the experiment: the project's seed (and so benchopt's repetition) does
        # not move it.
        return dict(x0=np.array([-0.5, -0.5]))
