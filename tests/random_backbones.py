"""Randomly initialised backbones of a real model's shape, saved as a folder that `backbone:` accepts: tests
and timings of the torch students on any machine without a download (compute depends on the shape, not on
the weights). The tokenizer is word-level, built from the texts given; the model keeps the real vocabulary
size, so embedding and output layers cost what they cost in the real model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synthdistill.errors import StudentError

SPECIAL_TOKENS = ("[PAD]", "[EOS]", "[UNK]")  # ids 0, 1, 2
# decoders also need the words of the lora student's prompt
_PROMPT_WORDS = "Classify the text with one of these labels : , . Text Label"

SHAPES: dict[str, dict[str, Any]] = {
    "tiny-encoder": {"model_type": "bert", "vocab_size": None, "hidden_size": 32, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "intermediate_size": 64},
    "xlm-roberta-large": {"model_type": "xlm-roberta", "vocab_size": 250_002, "hidden_size": 1024,
                          "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
                          "max_position_embeddings": 514, "type_vocab_size": 1, "pad_token_id": 0},
    "tiny-decoder": {"model_type": "gemma3_text", "vocab_size": None, "hidden_size": 32, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "intermediate_size": 64,
                     "max_position_embeddings": 128, "sliding_window": 32, "initializer_range": 0.2},
    "gemma-3-270m": {"model_type": "gemma3_text", "vocab_size": 262_144, "hidden_size": 640,
                     "num_hidden_layers": 18, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256,
                     "intermediate_size": 2048, "max_position_embeddings": 32_768, "sliding_window": 512,
                     "query_pre_attn_scalar": 256},
}  # fmt: skip


def _settings(shape: str) -> dict[str, Any]:
    if shape not in SHAPES:
        raise StudentError(f"unknown backbone shape {shape!r}: choose from {', '.join(SHAPES)}")
    return dict(SHAPES[shape])


def random_model(shape: str, vocab_size: int = 0, seed: int = 0) -> Any:
    """A model of `shape` (see SHAPES) with random weights and a vocabulary of at least `vocab_size` (a tiny
    shape's is exactly that). A decoder comes with its LM head; an encoder without a head, which the finetune
    student adds for its labels."""
    import torch
    import transformers

    settings = _settings(shape)
    model_type = settings.pop("model_type")
    settings["vocab_size"] = max(settings["vocab_size"] or 0, vocab_size)
    torch.manual_seed(seed)
    if model_type == "gemma3_text":
        config = transformers.Gemma3TextConfig(**settings, pad_token_id=0, eos_token_id=1, bos_token_id=1)
        return transformers.Gemma3ForCausalLM(config)
    return transformers.AutoModel.from_config(transformers.AutoConfig.for_model(model_type, **settings))


def write_random_backbone(directory: str | Path, shape: str, texts: Sequence[str], seed: int = 0) -> str:
    """Write a model of `shape` with random weights and a tokenizer of the words in `texts` (give the label
    names too: a word the tokenizer lacks is [UNK], and labels that are all [UNK] are one)."""
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    _settings(shape)  # an unknown shape fails before any work
    directory = Path(directory)
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=list(SPECIAL_TOKENS))
    tokenizer.train_from_iterator([*texts, _PROMPT_WORDS], trainer)
    wrapped = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="[PAD]", eos_token="[EOS]", unk_token="[UNK]"
    )
    wrapped.save_pretrained(directory)
    random_model(shape, vocab_size=len(wrapped), seed=seed).save_pretrained(directory)
    return str(directory)


def write_tiny_backbones(root: str | Path, texts: Sequence[str]) -> dict[str, str]:
    """A 2-layer BERT encoder ("encoder") and Gemma 3 causal LM ("decoder") with random weights: the torch
    students train on them in seconds on a CPU. Give the label names among `texts` (lora answers with them)."""
    return {kind: write_random_backbone(Path(root) / kind, f"tiny-{kind}", texts) for kind in ("encoder", "decoder")}
