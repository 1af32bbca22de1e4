"""Students: the small classifiers trained on the teacher's samples.

`base` (the protocol and the file format), `registry` (config `type` to class, and `load_student`),
`tfidf` and `embed` (linear heads over n-grams or sentence embeddings, via `linear_head` and `encoders`),
`icl` (a compact LLM prompted with synthetic examples), `finetune` and `lora` (torch students sharing one
training loop in `training_loop`, their backbones in `backbones`).
"""
