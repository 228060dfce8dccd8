"""``cot``: chain of thought - reason step by step, then answer. Benchmarks with prompts of their own (CRUXEval)
take it as the request for their paper's chain-of-thought prompt."""

from codeladder.prompts.base import Strategy

_THINK = "Think step by step first, then give the final code in a single {fence}python code block."

COT = Strategy(
    name="cot",
    version=1,
    system="You are an expert Python programmer who reasons step by step.",
    function_request="Complete the following Python function.\n\n{fence}python\n{prompt}\n{fence}\n\n" + _THINK,
    description_request=("{instruction}\nWrite a Python function named `{entry_point}`. Your code should pass "
                         "these tests:\n\n{tests}\n\n" + _THINK),
    completion_header="# Reason step by step in comments, then implement the function.\n",
)
