"""The verification engine: the same rules written the Mesa way, one `mesa.Agent` per member
(`reference`), which the tests compare with the array engine."""
