"""``@triton.jit`` code only; the launchers live one level up."""
