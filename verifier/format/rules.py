"""The catalogue of rules ``verifier.format.validate`` reports, with stable ids.

Ids never change meaning once released: ``RTN-E…`` rules are errors (``verifier.load`` refuses the file),
``RTN-W…`` warnings and ``RTN-I…`` information (the file loads; a person should look). The ``rtneural``
column says what RTNeural's dynamic ``json_parser::parseJson`` does with such a file (docs/format.md §13):
"loads fine", "silently wrong" (loads and computes something else), "exception" (throws while parsing) or
"crash" (the process dies, or a null model is returned that the caller dereferences). A single finding may
state a more precise outcome than its rule's default (e.g. a weight array that is too long throws, one that
is too short is read as zeros).

``python -m verifier.format.catalogue`` prints the catalogue as a Markdown table (the README embeds it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
Outcome = Literal["loads fine", "silently wrong", "exception", "crash"]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    rtneural: Outcome
    doc: str


_RULES = (
    # --- reading the file ---------------------------------------------------------------------------
    Rule("RTN-E001", "unreadable-file", "error", "exception", "The file does not exist or cannot be read."),
    Rule(
        "RTN-E002",
        "empty-file",
        "error",
        "exception",
        "The file is empty (or only whitespace): not a JSON document.",
    ),
    Rule("RTN-E003", "not-utf8", "error", "exception", "The bytes are not valid UTF-8, which JSON requires."),
    Rule(
        "RTN-E004",
        "json-syntax",
        "error",
        "exception",
        "The text is not valid JSON (truncated file, missing comma, trailing text...).",
    ),
    Rule(
        "RTN-E005",
        "non-finite-number",
        "error",
        "exception",
        "A NaN/Infinity literal, or a number too large for a double; every number must be finite.",
    ),
    Rule(
        "RTN-E006",
        "duplicate-key",
        "error",
        "silently wrong",
        "An object has the same key twice with different values; parsers keep one of them without a word.",
    ),
    Rule(
        "RTN-E007",
        "legacy-format",
        "error",
        "exception",
        "The team's legacy export (in_size/out_size, weights_ih/weights_hh, per-gate bias lists, "
        "metadata): re-export with verifier.export.",
    ),
    Rule(
        "RTN-E008",
        "other-guitarml-format",
        "error",
        "exception",
        "A GuitarML file of another plugin's format, not RTNeural's: SmartAmp's WaveNet JSON (dilations, "
        "residual_channels, variables) or SmartAmpPro's Keras weight dictionary (conv1d, conv1d_stride, "
        "lstm, dense). Only that plugin reads it.",
    ),
    # --- keys and types (the JSON Schema) -------------------------------------------------------------
    Rule(
        "RTN-E101",
        "missing-key",
        "error",
        "exception",
        "A required key is missing (in_shape, layers, a layer's type/shape/weights, conv/batchnorm keys).",
    ),
    Rule(
        "RTN-E102",
        "wrong-type",
        "error",
        "exception",
        "A value has the wrong JSON type (e.g. activation null, in_shape a number, a weight a string).",
    ),
    Rule(
        "RTN-E103",
        "invalid-value",
        "error",
        "silently wrong",
        "A value is out of its range (kernel_size 0, negative epsilon, variance + epsilon <= 0, conv2d "
        "padding other than valid/same...).",
    ),
    Rule(
        "RTN-E104",
        "empty-model",
        "error",
        "crash",
        "layers is empty: RTNeural builds a model whose first forward() crashes.",
    ),
    Rule(
        "RTN-E105",
        "unknown-layer-type",
        "error",
        "silently wrong",
        "A layer type RTNeural does not know; it drops the layer without a word.",
    ),
    Rule(
        "RTN-E106",
        "unknown-activation",
        "error",
        "crash",
        'An activation name other than tanh, relu, sigmoid, softmax, elu or "" on an entry that applies '
        "it; RTNeural's loader dereferences a null layer.",
    ),
    Rule(
        "RTN-E107",
        "weight-count",
        "error",
        "exception",
        "A layer has the wrong number of weight arrays (conv1d bias missing, batchnorm with 3 arrays, "
        "prelu weights [] ...).",
    ),
    Rule(
        "RTN-E108",
        "undefined-width",
        "error",
        "exception",
        "in_shape or a layer's shape does not end in a positive integer (or, with 4 entries, [2] and [3]).",
    ),
    # --- structure the schema cannot express ----------------------------------------------------------
    Rule(
        "RTN-E201",
        "width-chain",
        "error",
        "silently wrong",
        "A layer's input width differs from the previous layer's output width (or in_shape's width).",
    ),
    Rule(
        "RTN-E202",
        "weight-shape",
        "error",
        "exception",
        "A weight array's shape differs from what the layer's widths imply (too long throws, too short "
        "is read as zeros or past its end).",
    ),
    Rule(
        "RTN-E203",
        "dense-kernel-transposed",
        "error",
        "exception",
        "A dense kernel is written [out][in] (PyTorch orientation) instead of [in][out].",
    ),
    Rule(
        "RTN-E204",
        "conv1d-groups-missing",
        "error",
        "silently wrong",
        "A grouped conv1d kernel without a groups key: RTNeural builds one group and zero-fills.",
    ),
    Rule(
        "RTN-E205",
        "conv1d-groups-invalid",
        "error",
        "silently wrong",
        "conv1d groups does not divide the input and output widths.",
    ),
    Rule(
        "RTN-E206",
        "conv2d-output-shape",
        "error",
        "crash",
        "A conv2d shape disagrees with the output size its keys imply; parseJson returns a null model.",
    ),
    Rule(
        "RTN-E207",
        "rtneural-reads-out-of-bounds",
        "error",
        "crash",
        'RTNeural reads outside a buffer: a conv2d with "same" padding whose feature kernel makes one '
        "output window overhang both edges of the frame (kernel_size_feature wider than num_features_in, "
        "for some strides and widths only) reads past its frame (AddressSanitizer: heap-buffer-overflow; "
        "its backends disagree and one build's outputs change between runs). Our engine's answer is not "
        "what a plugin gets.",
    ),
    Rule(
        "RTN-E208",
        "float32-overflow",
        "error",
        "silently wrong",
        "A weight or parameter (batchnorm epsilon, prelu alpha...) beyond float32's range (magnitude above "
        "3.4028235e38): finite as a double, it is inf in the float32 engine a plugin runs, whose layer then "
        "outputs inf or NaN. Reported whenever the model is checked or loaded for float32 (the default).",
    ),
    # --- limits (refused before anything large is allocated) ----------------------------------------
    Rule(
        "RTN-E301", "file-too-large", "error", "loads fine", "The file is larger than Limits.max_file_bytes."
    ),
    Rule("RTN-E302", "too-deep", "error", "exception", "JSON nesting deeper than Limits.max_depth."),
    Rule(
        "RTN-E303",
        "layer-too-wide",
        "error",
        "exception",
        "A declared width exceeds Limits.max_layer_width (RTNeural would try to allocate it).",
    ),
    Rule(
        "RTN-E304",
        "too-many-parameters",
        "error",
        "loads fine",
        "The declared widths imply more than Limits.max_total_parameters weights.",
    ),
    Rule(
        "RTN-E305",
        "state-too-large",
        "error",
        "loads fine",
        "The values a model declares it holds besides its weights (each layer's output, LSTM/GRU state, a "
        "convolution's history of (kernel_size - 1) x dilation + 1 inputs) exceed Limits.max_state_values: "
        "a few bytes of JSON must not make the checker allocate gigabytes.",
    ),
    # --- GuitarML state_dict files (model_data + state_dict; the "RTNeural" column is the plugin) -------
    Rule(
        "RTN-E401",
        "state-dict-missing-key",
        "error",
        "exception",
        "A GuitarML state_dict file lacks a key the Proteus/NeuralPi loader reads (model_data's unit_type, "
        "input_size, hidden_size, output_size, skip; state_dict's rec.weight_ih_l0, rec.weight_hh_l0, "
        "rec.bias_ih_l0, rec.bias_hh_l0, lin.weight, lin.bias).",
    ),
    Rule(
        "RTN-E402",
        "state-dict-wrong-type",
        "error",
        "exception",
        "A GuitarML state_dict file holds a value of the wrong JSON type (a size that is not an integer, a "
        "weight that is not a list of numbers...).",
    ),
    Rule(
        "RTN-E403",
        "state-dict-unsupported",
        "error",
        "silently wrong",
        "A GuitarML state_dict file declares what the plugins cannot build: a model other than SimpleRNN, a "
        "unit_type other than LSTM or GRU, num_layers above 1 (only rec.*_l0 is loaded), skip other than "
        "0 or 1, a size below 1, or a state_dict holding a further layer's weights (rec.*_l1...).",
    ),
    Rule(
        "RTN-E404",
        "state-dict-shape",
        "error",
        "silently wrong",
        "A GuitarML state_dict array's shape contradicts model_data (hidden_size, input_size, output_size, "
        "unit_type's gate count): the plugin's loops, sized from model_data, read the wrong numbers.",
    ),
    # --- state_dict files loaded with RTNeural's torch_helpers, as a manifest declares them ------------
    Rule(
        "RTN-E405",
        "torch-helpers-missing-key",
        "error",
        "exception",
        "A key a declared torch_helpers loader reads (its prefix + weight, bias, weight_ih_l<k>...) is not "
        "in the state_dict, or the object the loaders are given is not in the file.",
    ),
    Rule(
        "RTN-E406",
        "torch-helpers-shape",
        "error",
        "silently wrong",
        "A state_dict array does not fit the declared layer chain (its input width is not the previous "
        "layer's output, a gate count that does not divide, a bias of another length): the C++ layer "
        "type, fixed at compile time, reads the wrong numbers.",
    ),
    Rule(
        "RTN-E407",
        "torch-helpers-unsupported",
        "error",
        "loads fine",
        "A torch_helpers declaration the verifier cannot check: loadConvTranspose1D (the engine has no "
        "transposed convolution), an unknown loader or activation, an activation first, no layers.",
    ),
    # --- accepted but suspicious ----------------------------------------------------------------------
    Rule(
        "RTN-W001",
        "ignored-activation",
        "warning",
        "silently wrong",
        "An activation on an lstm/gru/prelu/batchnorm entry, which RTNeural ignores; add a separate "
        "activation entry.",
    ),
    Rule(
        "RTN-W002",
        "no-op-activation-layer",
        "warning",
        "loads fine",
        "An activation entry with no (or an empty) activation: it does nothing.",
    ),
    Rule(
        "RTN-W003",
        "square-dense-kernel",
        "warning",
        "loads fine",
        "A square dense kernel: a transposed export loads fine, so only a numerical comparison can "
        "confirm the [in][out] orientation.",
    ),
    Rule(
        "RTN-W004",
        "conv1d-ignored-key",
        "warning",
        "silently wrong",
        "A conv1d with strides != 1 or a non-causal padding: RTNeural has no such keys and streams a "
        "causal stride-1 convolution.",
    ),
    Rule(
        "RTN-W005",
        "prelu-shape-ignored",
        "warning",
        "loads fine",
        "A prelu whose shape disagrees with the incoming width; RTNeural ignores a prelu's shape.",
    ),
    Rule(
        "RTN-W006",
        "null-activation-ignored",
        "warning",
        "loads fine",
        '"activation": null on an lstm or gru entry; RTNeural never reads the key there, so it runs, but '
        'write "tanh" or leave the key out.',
    ),
    Rule(
        "RTN-W007",
        "duplicate-key-same-value",
        "warning",
        "loads fine",
        "An object has the same key twice with identical values: whichever a parser keeps, the file means "
        "the same; remove the copy.",
    ),
    Rule(
        "RTN-W008",
        "float32-underflow",
        "warning",
        "loads fine",
        "A non-zero weight or parameter below float32's normal range (magnitude under 1.1754944e-38): "
        "float32 holds a subnormal (slow on x86, zero where a plugin sets flush-to-zero) or, at or below "
        "2^-150, zero. Reported whenever the model is checked or loaded for float32 (the default).",
    ),
    Rule(
        "RTN-W009",
        "state-dict-unread-key",
        "warning",
        "loads fine",
        "A GuitarML state_dict key the plugins never read (not one of rec.weight_ih_l0, rec.weight_hh_l0, "
        "rec.bias_ih_l0, rec.bias_hh_l0, lin.weight, lin.bias): whatever it held in training is not in "
        "the plugin's model.",
    ),
    Rule(
        "RTN-W010",
        "torch-helpers-unread-key",
        "warning",
        "loads fine",
        "A state_dict key under a declared loader's prefix that no declared call reads: a stacked RNN's "
        "further layer (a layer_index not declared), or a bias of a call with has_bias false. The trained "
        "model has it; the plugin's does not.",
    ),
    Rule(
        "RTN-I001",
        "bias-free-dense",
        "info",
        "loads fine",
        "A dense entry without a bias array; RTNeural uses a zero bias.",
    ),
    Rule(
        "RTN-I002",
        "square-dense-kernel-confirmed",
        "info",
        "loads fine",
        "A square dense kernel (RTN-W003) whose [in][out] orientation a numeric comparison with the PyTorch "
        "module (a factory or a checkpoint, not the JSON's own rebuild) has just confirmed.",
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}


def rule(rule_id: str) -> Rule:
    """The rule with this id (KeyError for an unknown id: a programmer error)."""
    return RULES[rule_id]


def markdown_table() -> str:
    """The catalogue as a Markdown table, one rule per row."""
    lines = ["| id | name | severity | RTNeural | what it means |", "|---|---|---|---|---|"]
    lines += [
        f"| {r.id} | {r.name} | {r.severity} | {r.rtneural} | {r.doc.replace('|', '/')} |" for r in _RULES
    ]
    return "\n".join(lines)
