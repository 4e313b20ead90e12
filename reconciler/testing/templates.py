"""Prompt templates of the catalog's model families (Go text/template, as Ollama stores them).

They matter for behaviour, not only for show: capabilities are derived from them exactly as
Ollama derives them (`.Tools` → tools, `.Suffix` → insert, `.Think` → thinking), so a custom
model created with another template gains or loses those capabilities.
"""

from __future__ import annotations

LLAMA3_TOOLS = """<|start_header_id|>system<|end_header_id|>

{{ if .System }}{{ .System }}{{ end }}
{{- if .Tools }}You have access to the following functions:
{{ range .Tools }}{{ . }}
{{ end }}{{ end }}<|eot_id|>
{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>
{{- end }}<|start_header_id|>assistant<|end_header_id|>

"""

LLAMA2_INSTRUCT = """[INST] <<SYS>>{{ .System }}<</SYS>>

{{ .Prompt }} [/INST]
"""

CODELLAMA = """{{- if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>
{{- else }}[INST] <<SYS>>{{ .System }}<</SYS>>

{{ .Prompt }} [/INST]
{{- end }}"""

CHATML_TOOLS = """{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>
{{- end }}<|im_end|>
{{ end }}
{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ else }}<|im_start|>user
{{ .Prompt }}<|im_end|>
<|im_start|>assistant
{{ end }}"""

QWEN_CODER = (
    """{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>
{{- else }}"""
    + CHATML_TOOLS
    + "{{- end }}"
)

QWEN3_THINKING = CHATML_TOOLS.replace(
    "<|im_start|>assistant\n{{ else }}",
    "<|im_start|>assistant\n{{ if and $.IsThinkSet (not $.Think) }}<think>\n\n</think>\n\n"
    "{{ end }}{{ else }}",
)

DEEPSEEK_R1 = """{{- if .System }}{{ .System }}{{ end }}
{{- range $i, $_ := .Messages }}
{{- if eq .Role "user" }}<｜User｜>{{ .Content }}
{{- else if eq .Role "assistant" }}<｜Assistant｜>{{ .Content }}<｜end▁of▁sentence｜>
{{- end }}
{{- end }}<｜Assistant｜>{{ if and $.IsThinkSet $.Think }}<think>
{{ end }}"""

MISTRAL_TOOLS = """{{- range $i, $_ := .Messages }}
{{- if eq .Role "user" }}
{{- if and $.Tools (eq $i (len $.Messages | add -1)) }}
[AVAILABLE_TOOLS] {{ $.Tools }}[/AVAILABLE_TOOLS]
{{- end }}[INST] {{ if and $.System (eq $i (len $.Messages | add -1)) }}{{ $.System }}

{{ end }}{{ .Content }}[/INST]
{{- else if eq .Role "assistant" }} {{ .Content }}</s>
{{- end }}
{{- end }}"""

GEMMA = """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if or (eq .Role "user") (eq .Role "system") }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ if $last }}<start_of_turn>model
{{ end }}
{{- else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}{{ if not $last }}<end_of_turn>
{{ end }}
{{- end }}
{{- end }}"""

PHI3 = """{{ if .System }}<|system|>
{{ .System }}<|end|>
{{ end }}{{ if .Prompt }}<|user|>
{{ .Prompt }}<|end|>
{{ end }}<|assistant|>
{{ .Response }}<|end|>"""

VICUNA_VISION = """{{ if .System }}{{ .System }}
{{ end }}USER: {{ .Prompt }}
ASSISTANT: """

ZEPHYR = """<|system|>
{{ .System }}</s>
<|user|>
{{ .Prompt }}</s>
<|assistant|>
"""

HARMONY = """<|start|>system<|message|>You are ChatGPT, a large language model.
Reasoning: {{ if .ThinkLevel }}{{ .ThinkLevel }}{{ else }}medium{{ end }}
{{- if .Think }}{{ end }}
{{- if .Tools }}
# Tools
{{ range .Tools }}{{ .Function.Name }}
{{ end }}{{ end }}<|end|>
{{- range .Messages }}<|start|>{{ .Role }}<|message|>{{ .Content }}<|end|>
{{- end }}<|start|>assistant"""

EMBEDDING = "{{ .Prompt }}"

LLAMA_LICENSE = (
    "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\n"
    "Llama 3.2 Version Release Date: September 25, 2024\n"
    "By clicking \u201cI Accept\u201d below or by using or distributing any portion or element "
    "of the Llama Materials, you agree to be bound by this Agreement."
)
APACHE_LICENSE = (
    "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n\n"
    "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"
)
MIT_LICENSE = (
    "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy "
    'of this software and associated documentation files (the "Software").'
)
GEMMA_LICENSE = (
    "Gemma Terms of Use\n\nLast modified: February 21, 2024\n\n"
    "By using, reproducing, modifying, distributing, performing or displaying any portion or "
    "element of Gemma, you agree to be bound by this Agreement."
)
