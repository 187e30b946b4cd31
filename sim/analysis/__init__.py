"""Analysis of many runs: sweep aggregation (`aggregate`), calibration targets and loss
(`calibration`), and the sensitivity design's runs (`sensitivity`)."""
