"""Forgetting while training: evaluate the checkpoints of a post-training run against its base
and draw forgetting / backward transfer against the training step (docs/tracking.md).

`naming` is the contract shared with the training callback (forgetmap.integrations): the records
of checkpoint N of run R are stored under the model name `R/step-N`."""
