"""``standard`` (alias ``default``): ask for the code, nothing else."""

from codeladder.prompts.base import Strategy

STANDARD = Strategy(
    name="standard",
    version=1,
    system="You are an expert Python programmer.",
    function_request=(
        "Complete the following Python function. Return the complete function, with any imports it needs, "
        "in a single {fence}python code block.\n\n{fence}python\n{prompt}\n{fence}"
    ),
    description_request=(
        "{instruction}\nWrite a Python function named `{entry_point}`. Your code should pass these tests:\n\n"
        "{tests}\n\nReturn the code in a single {fence}python code block."
    ),
)
