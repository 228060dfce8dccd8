"""Paraphrases for the decontamination tests: a program with every name it binds renamed (in its docstrings
too) and reformatted by ``ast.unparse``, as a copier hiding a benchmark problem would do."""

import ast
import builtins
import re

POOL = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lam", "mu"]


def rename(code: str, docstrings: bool = True) -> str:
    tree = ast.parse(code)
    bound = [n.name if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) else n.arg if isinstance(n, ast.arg)
             else n.id for n in ast.walk(tree)
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.arg))
             or (isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))]
    mapping: dict[str, str] = {}
    for name in bound:
        if name not in mapping and name not in dir(builtins):
            mapping[name] = f"{POOL[len(mapping) % len(POOL)]}{len(mapping) // len(POOL)}_v"

    class Renamer(ast.NodeTransformer):
        def visit_Name(self, node):
            node.id = mapping.get(node.id, node.id)
            return node

        def visit_arg(self, node):
            node.arg = mapping.get(node.arg, node.arg)
            return node

        def visit_FunctionDef(self, node):
            node.name = mapping.get(node.name, node.name)
            if not docstrings and ast.get_docstring(node) is not None:
                node.body = node.body[1:] or [ast.Pass()]
            self.generic_visit(node)
            return node

        def visit_Constant(self, node):
            if isinstance(node.value, str):
                node.value = re.sub(r"\w+", lambda m: mapping.get(m.group(), m.group()), node.value)
            return node

    return ast.unparse(Renamer().visit(tree)) + "\n"
