"""Guards that make a fine-tuning run prove it trains on what it says, before (and right after) it spends
the compute. None of this exists in TRL or PEFT, hence hand-written:

- **label mask**: TRL builds ``labels`` (-100 = no loss) while preparing the dataset; here every prepared row
  is checked for supervised tokens, the prompt is tokenized again independently and must carry no loss
  when completion-only was asked, a completion that holds a chat turn header (a dataset templated
  already) or a prompt that holds one under ``--template chat`` (templated twice) is refused, and the
  first example is shown token by token;
- **stop token**: the end-of-turn/eos token must carry loss (with pad == eos a collator that masks pad ids
  masks the stop token too, and the model never learns to stop: TRL 1.x builds labels from its own mask,
  which is checked here rather than trusted);
- **first-step loss**: ln(vocab) is what a random-init model scores; far above it means wrong labels;
- **adapters**: PEFT raises only when *no* module matches ``target_modules``; here every asked name must
  match, and the adapted modules are counted (zero is an error, the count is printed and reported);
- **DPO**: a run whose loss stays at ln 2 with zero margins never moved the policy off the reference.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

from codeladder.errors import LadderError

PROMPT_RECHECK_ROWS = 256  # rows whose prompt is tokenized again to check the mask (all rows are counted)
SENTINEL = "\u2063CODELADDER\u2063"


@dataclass
class Findings:
    """What the guards saw: the ``guards`` section of ``train_report.json``."""

    label_mask: dict = field(default_factory=dict)
    stop_token: dict = field(default_factory=dict)
    first_loss: dict = field(default_factory=dict)
    adapter: dict = field(default_factory=dict)
    dpo: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v or k == "warnings"}


# --- adapters -------------------------------------------------------------------------------------------

def linear_modules(model) -> dict[str, object]:
    """Every linear layer inside the transformer blocks (``lm_head`` and embeddings excluded); bitsandbytes'
    4-bit and 8-bit layers subclass ``torch.nn.Linear`` and count too."""
    import torch

    return {name: module for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and ".layers." in f".{name}"}


def resolve_targets(model, asked: tuple[str, ...]) -> tuple[list[str], dict[str, int]]:
    """(target names, modules each matches): the default is every linear projection of the attention and
    MLP blocks; a name that matches no module is an error listing them all, and what there is."""
    linears = linear_modules(model)
    suffixes = sorted({name.rsplit(".", 1)[-1] for name in linears})
    if not suffixes:
        raise LadderError("adapter: the base model has no linear layers inside its transformer blocks to adapt")
    targets = list(asked) or suffixes
    counts = {t: sum(1 for name in linears if name == t or name.endswith(f".{t}")) for t in targets}
    unmatched = [t for t, n in counts.items() if n == 0]
    if unmatched:
        raise LadderError(f"--target-modules: {len(unmatched)} name(s) match no linear layer of the base model: "
                          f"{', '.join(unmatched)}; its layers are named {', '.join(suffixes)}")
    return targets, counts


def count_adapted(model, expected: dict[str, int]) -> dict:
    """Modules PEFT actually wrapped, by name; zero, or fewer than the names matched, is an error."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    adapted = [name for name, module in model.named_modules() if isinstance(module, BaseTunerLayer)]
    by_name = Counter(name.rsplit(".", 1)[-1] for name in adapted)
    if not adapted:
        raise LadderError(f"adapter: PEFT adapted 0 modules for targets {', '.join(expected)}")
    short = {t: n for t, n in expected.items() if by_name.get(t.rsplit(".", 1)[-1], 0) < n}
    if short:
        raise LadderError("adapter: PEFT adapted fewer modules than the targets match: " + ", ".join(
            f"{t} ({by_name.get(t.rsplit('.', 1)[-1], 0)} of {n})" for t, n in short.items()))
    return {"modules": len(adapted), "by_name": dict(sorted(by_name.items())), "targets": list(expected)}


# --- label mask -----------------------------------------------------------------------------------------

def turn_header(tokenizer, role: str = "user") -> str | None:
    """The text the chat template puts before a ``role`` turn's content (``<|im_start|>user\\n``), or None."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    try:
        text = tokenizer.apply_chat_template([{"role": role, "content": SENTINEL}], tokenize=False)
    except Exception:  # noqa: BLE001 - a template that rejects a lone turn: no header to look for
        return None
    header = text.split(SENTINEL)[0]
    bos = getattr(tokenizer, "bos_token", None)
    header = header[len(bos):] if bos and header.startswith(bos) else header
    return header.strip() or None


def _prompt_ids(tokenizer, record: dict) -> list[int]:
    """The prompt tokenized the way TRL does it, independently of TRL's code."""
    prompt = record["prompt"]
    if isinstance(prompt, list):
        ids = tokenizer.apply_chat_template(prompt, tokenize=True, add_generation_prompt=True)
        return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
    return list(tokenizer(prompt, add_special_tokens=False)["input_ids"]) if prompt else []


def _text(record: dict, key: str) -> str:
    value = record.get(key, "")
    return "".join(turn["content"] for turn in value) if isinstance(value, list) else str(value)


def check_templating(records: list[dict], tokenizer, chat: bool) -> None:
    """A prompt or completion that already holds the template's turn header is refused, naming the line."""
    header = turn_header(tokenizer)
    if header is None:
        return
    for record in records:
        if chat and header in _text(record, "prompt"):
            raise LadderError(f"line {record['line']}: field 'prompt' already holds the chat template's turn header "
                              f"{header!r}, and the template is applied again (templated twice); give the plain "
                              "text, or --template raw")


def _first_example(tokenizer, example: dict) -> dict:
    ids, labels = example["input_ids"], example["labels"]
    pieces = [tokenizer.decode([t]) for t in ids]
    return {"line": example.get("line"), "tokens": len(ids), "supervised": sum(1 for x in labels if x != -100),
            "mask": "".join("1" if x != -100 else "0" for x in labels),
            "prompt_text": "".join(p for p, x in zip(pieces, labels) if x == -100),
            "supervised_text": "".join(p for p, x in zip(pieces, labels) if x != -100),
            "pieces": pieces}


def check_label_mask(prepared, records: list[dict], tokenizer, completion_only: bool) -> dict:
    """Check TRL's prepared rows (``input_ids``, ``labels``, ``line``); returns the finding, with the first
    example's tokens and which of them carry loss."""
    if prepared is None or len(prepared) == 0:
        raise LadderError("label mask: no training row has a supervised token left (every completion was cut off "
                          "by --max-length, or is empty); raise --max-length or shorten the prompts")
    kept = prepared["line"]
    dropped = sorted({r["line"] for r in records} - set(kept))
    by_line = {r["line"]: r for r in records}
    header = turn_header(tokenizer)
    supervised_total, tokens_total = 0, 0
    for index in range(len(prepared)):
        example = prepared[index]
        labels, line = example["labels"], example["line"]
        supervised = [i for i, x in enumerate(labels) if x != -100]
        if not supervised:
            raise LadderError(f"label mask: line {line} has no token carrying loss")
        supervised_total += len(supervised)
        tokens_total += len(labels)
        if not completion_only or index >= PROMPT_RECHECK_ROWS:
            continue
        prompt_ids = _prompt_ids(tokenizer, by_line[line])
        prefix = 0
        while prefix < min(len(prompt_ids), len(labels)) and prompt_ids[prefix] == example["input_ids"][prefix]:
            prefix += 1
        leaked = [i for i in supervised if i < prefix]
        if leaked:
            raise LadderError(f"label mask: line {line}: {len(leaked)} prompt token(s) carry loss although "
                              "completion-only loss was asked")
        if header is not None:
            text = tokenizer.decode([example["input_ids"][i] for i in supervised])
            if header in text:
                raise LadderError(f"label mask: line {line}: the supervised tokens hold the chat template's turn "
                                  f"header {header!r}, so prompt turns carry loss (the dataset looks templated "
                                  "already); give plain prompt/completion or messages rows")
    first = _first_example(tokenizer, prepared[0])
    return {"rows": len(prepared), "rows_dropped": len(dropped), "dropped_lines": dropped[:20],
            "tokens": tokens_total, "supervised_tokens": supervised_total,
            "supervised_share": round(supervised_total / max(tokens_total, 1), 4),
            "completion_only": completion_only, "first_example": first}


def stop_ids(tokenizer, model) -> set[int]:
    ids = set()
    generation = getattr(model, "generation_config", None)
    eos = getattr(generation, "eos_token_id", None) if generation is not None else None
    ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def check_stop_token(first_example: dict, prepared, tokenizer, model) -> dict:
    """The stop token must carry loss in the first example; pad == eos is reported (and why it is safe here)."""
    stops = stop_ids(tokenizer, model)
    example = prepared[0]
    supervised = {t for t, x in zip(example["input_ids"], example["labels"]) if x != -100}
    found = sorted(stops & supervised)
    pad_is_eos = tokenizer.pad_token_id is not None and tokenizer.pad_token_id == tokenizer.eos_token_id
    if not found:
        names = ", ".join(repr(tokenizer.decode([t])) for t in sorted(stops)) or "none"
        raise LadderError(f"stop token: no stop token ({names}) carries loss in line {first_example['line']}: the "
                          "model would never learn to stop" + (" (pad == eos masks it)" if pad_is_eos else ""))
    finding = {"stop_tokens": [tokenizer.decode([t]) for t in found], "supervised": True, "pad_equals_eos": pad_is_eos}
    if pad_is_eos:
        finding["note"] = ("pad == eos: labels come from the prepared completion mask, not from the pad id, and the "
                           "stop token was checked to carry loss")
    return finding


# --- first-step loss ------------------------------------------------------------------------------------

def first_loss(model, collator, prepared, batch_size: int) -> float:
    """The loss of the first batch, before any update (the loss step 1 starts from)."""
    import torch

    rows = [prepared[i] for i in range(min(batch_size, len(prepared)))]
    batch = collator([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])
    device = next(p.device for p in model.parameters())
    was_training = model.training
    model.eval()
    with torch.no_grad():
        loss = model(**{k: v.to(device) for k, v in batch.items() if hasattr(v, "to")}).loss
    model.train(was_training)
    return float(loss)


def judge_first_loss(loss: float, vocab: int, random_init: bool | None) -> dict:
    """Near ln(vocab) for a random-init model; far above it is an error; a pretrained model starting far above
    a few nats/token gets a warning naming the likely causes."""
    ln_vocab = math.log(vocab)
    finding = {"loss": round(loss, 4), "ln_vocab": round(ln_vocab, 4), "ratio": round(loss / ln_vocab, 3),
               "random_init": random_init, "verdict": "ok"}
    if not math.isfinite(loss) or loss > 1.5 * ln_vocab:
        raise LadderError(f"first-step loss {loss:.2f} nats/token is far above ln(vocab) = {ln_vocab:.2f} (what "
                          "uniform guessing scores): the labels are misaligned with the inputs or the weights are "
                          "broken; check the data's template and the label mask shown above")
    if random_init and abs(loss - ln_vocab) > 0.25 * ln_vocab:
        finding["verdict"] = "warning"
        finding["message"] = (f"a random-init model should start near ln(vocab) = {ln_vocab:.2f}, got {loss:.2f}: "
                              "check the initialisation and the labels")
    elif not random_init and loss > 5.0:
        finding["verdict"] = "warning"
        finding["message"] = (f"a pretrained model starts at {loss:.2f} nats/token (expected a few): likely a wrong "
                              "chat template (not the one the model was trained with), labels on the wrong tokens, "
                              "or weights that did not load")
    return finding


def is_random_init(base) -> bool | None:
    """True when the base's lineage starts at ``ladder tiny`` (random init); None when unknown."""
    from codeladder.models.lineage import read_lineage

    stages = [s.get("stage") for s in read_lineage(base).get("stages", [])]
    return True if stages[:1] == ["tiny"] and len(stages) == 1 else None


# --- DPO ------------------------------------------------------------------------------------------------

def judge_dpo(steps: list[dict]) -> dict:
    """A DPO run whose loss never left ln 2 with zero margins trained nothing (adapter inactive, or the
    reference is the policy)."""
    if not steps:
        return {}
    margins = [s["reward_margin"] for s in steps if s.get("reward_margin") is not None]
    losses = [s["loss"] for s in steps if s.get("loss") is not None]
    stuck = bool(losses) and all(abs(x - math.log(2)) < 1e-4 for x in losses) and all(abs(m) < 1e-6 for m in margins)
    finding = {"first_margin": margins[0] if margins else None, "last_margin": margins[-1] if margins else None,
               "stuck_at_ln2": stuck}
    if stuck:
        raise LadderError("dpo: the loss stayed at ln 2 = 0.693 with zero reward margins at every step: the policy "
                          "never moved off the reference (adapter inactive, or the learning rate is 0)")
    return finding


__all__ = ["Findings", "linear_modules", "resolve_targets", "count_adapted", "turn_header", "check_templating",
           "check_label_mask", "check_stop_token", "stop_ids", "first_loss", "judge_first_loss", "is_random_init",
           "judge_dpo"]
