import MultiRaft
