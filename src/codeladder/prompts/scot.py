"""``scot``: structured chain of thought - plan with sequence, branch and loop steps, then code."""

from codeladder.prompts.base import Strategy

_PLAN = ("First write a short plan as numbered steps using only sequence, branch (if) and loop (for/while) "
         "structures. Then write the code that follows the plan in a single {fence}python code block.")

SCOT = Strategy(
    name="scot",
    version=1,
    system="You are an expert Python programmer who plans before coding.",
    function_request="Complete the following Python function.\n\n{fence}python\n{prompt}\n{fence}\n\n" + _PLAN,
    description_request=("{instruction}\nWrite a Python function named `{entry_point}`. Your code should pass "
                         "these tests:\n\n{tests}\n\n" + _PLAN),
    completion_header="# Plan the solution as numbered comment steps (sequence, branch, loop), then implement it.\n",
)
