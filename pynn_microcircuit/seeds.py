"""Seeds for each random choice of a run, derived from the run's seed without ``numpy.random``.

:func:`seed_word` is NumPy's ``SeedSequence(entropy).generate_state(1)[0]`` in plain Python
integers: the algorithm of ``numpy/random/bit_generator.pyx`` (NumPy 1.17+, unchanged since;
NEP 19 promises that SeedSequence's output stays the same across NumPy versions), which is
M. E. O'Neill's ``seed_seq_fe`` hash mix ("Developing a seed_seq Alternative", 2015,
https://www.pcg-random.org/posts/developing-a-seed_seq-alternative.html) with NumPy's
constants and pool of 4 words. Why not call NumPy: importing ``numpy.random`` costs 5.4 MB
of resident memory held through the whole run (1.8 MB of its own and 3.5 MB of OpenSSL's
libcrypto, which it loads through ``secrets`` -> ``hmac`` -> ``hashlib``; measured with
/proc/self/status after ``import nest``), and the NEST path needs it for nothing else: NEST
draws every random number itself. Equality with NumPy is tested
(``tests/test_params.py``). Pure integer arithmetic, no simulator import.
"""

from __future__ import annotations

#: Constants of NumPy's SeedSequence (numpy/random/bit_generator.pyx).
POOL_SIZE = 4
INIT_A = 0x43B0D7E5
MULT_A = 0x931E8875
INIT_B = 0x8B51F9DD
MULT_B = 0x58F38DED
MIX_MULT_L = 0xCA01F9DD
MIX_MULT_R = 0x4973F715
XSHIFT = 16
MASK32 = 0xFFFFFFFF


def _words(entropy: list[int]) -> list[int]:
    """Each non-negative integer as its 32-bit words, least significant first (0 is one
    word), concatenated: NumPy's ``_coerce_to_uint32_array`` of a list of ints."""
    out = []
    for n in entropy:
        n = int(n)
        if n < 0:
            raise ValueError(f"seed entropy must be non-negative, got {n}")
        out.append(n & MASK32)
        n >>= 32
        while n:
            out.append(n & MASK32)
            n >>= 32
    return out


def seed_word(entropy: list[int]) -> int:
    """``numpy.random.SeedSequence(entropy).generate_state(1)[0]`` (a 32-bit unsigned
    integer) for a list of non-negative integers, without importing ``numpy.random``."""
    data = _words(entropy)
    hash_const = INIT_A

    def hashmix(value: int) -> int:
        nonlocal hash_const
        value ^= hash_const
        hash_const = (hash_const * MULT_A) & MASK32
        value = (value * hash_const) & MASK32
        return value ^ (value >> XSHIFT)

    def mix(x: int, y: int) -> int:
        result = (MIX_MULT_L * x - MIX_MULT_R * y) & MASK32
        return result ^ (result >> XSHIFT)

    pool = [hashmix(data[i] if i < len(data) else 0) for i in range(POOL_SIZE)]
    for i_src in range(POOL_SIZE):
        for i_dst in range(POOL_SIZE):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hashmix(pool[i_src]))
    for value in data[POOL_SIZE:]:
        for i_dst in range(POOL_SIZE):
            pool[i_dst] = mix(pool[i_dst], hashmix(value))
    # generate_state(1): the first pool word through the output hash
    value = pool[0] ^ INIT_B
    value = (value * ((INIT_B * MULT_B) & MASK32)) & MASK32
    return value ^ (value >> XSHIFT)
