"""One module per behavioural rule, each a set of functions that work on arrays and on single
values alike, so the array engine and the per-object reference call the same code."""
