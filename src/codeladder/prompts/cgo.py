"""``cgo``: chain of grounded objectives - decompose into small helper functions; answer with code only."""

from codeladder.prompts.base import Strategy

_DECOMPOSE = ("Decompose the problem into small, well-named helper functions, then implement `{entry_point}` "
              "using them. Answer with code only, in a single {fence}python code block, with no explanation.")

CGO = Strategy(
    name="cgo",
    version=1,
    system="You are an expert Python programmer. You write small composable functions.",
    function_request="Complete the following Python function.\n\n{fence}python\n{prompt}\n{fence}\n\n" + _DECOMPOSE,
    description_request=("{instruction}\nYour code should pass these tests:\n\n{tests}\n\n" + _DECOMPOSE),
    completion_header="# Solve with small helper functions first, then the requested function.\n",
)
