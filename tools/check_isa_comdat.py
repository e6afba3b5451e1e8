#!/usr/bin/env python3
"""Fail when a wider ISA's code could run on a narrower ISA's path: shared COMDAT copies, and
static initializers of the per-ISA files (they run when the module loads, on every CPU).

Why: an inline function or template instantiated in several object files is a COMDAT (weak)
symbol, and the linker keeps ONE copy for the whole module. If the same mangled name is defined
in an object compiled with -mavx512f and in a baseline or -mavx2 one, whichever copy is kept runs
on every path: AVX-512 code on an AVX2-only CPU dies of SIGILL (ARCHITECTURE.md, "link order").
The link order makes the narrowest copy win today; this check makes sure no such twin exists at
all, so the order is a second line of defence rather than the only one.

Rule (checked on the object files, before the module is linked and stripped):
  the ISA level of an object is avx512 for "*_avx512*.o", avx2 for "*_avx2*.o", else baseline;
  for every weak function defined in objects of two or more levels, the copies in the wider
  objects may use no instruction the narrowest level lacks: no VEX (c4 / c5 opcode) or EVEX (62)
  encoding when the narrowest is baseline, no EVEX encoding when it is avx2.
Static initializers (the kernels' CORENN_REGISTER_KERNEL lines and any other dynamic
initialization in a *_avx2 / *_avx512 file) run at load time whatever the CPU, so they may use no
VEX / EVEX instruction at all. And the check has to see machine code: an ISA object that holds
only LTO bytecode is an error (the ISA files are compiled with -fno-lto; with LTO, GCC merged their
initializers into one constructor that ran AVX-512 stores at `import corenn`).
Shared templates therefore have to be instantiated with the ISA's own traits type (its name
carries avx2:: / avx512::), or be static / anonymous-namespace, so each ISA's copy has a name of
its own (csrc/cpu/simd/).

Usage: check_isa_comdat.py [--objdump PATH] [--nm PATH] OBJECT...   (exit 1 on a violation)
"""
import argparse
import re
import subprocess
import sys
from collections import defaultdict

LEVELS = {"baseline": 0, "avx2": 1, "avx512": 2}
# Legacy prefixes that may precede an opcode byte (operand/address size, segment, lock, rep).
LEGACY_PREFIXES = {"66", "67", "f0", "f2", "f3", "2e", "3e", "26", "36", "64", "65"}
STATIC_INIT = ("_GLOBAL__sub_I_", "__static_initialization_and_destruction")
INSN = re.compile(r"^\s+[0-9a-f]+:\t((?:[0-9a-f]{2} )+)\s*\t?(.*)$")
FUNC = re.compile(r"^[0-9a-f]+ <(.+)>:$")


def isa_level(path):
    name = path.rsplit("/", 1)[-1]
    if "_avx512" in name:
        return "avx512"
    if "_avx2" in name:
        return "avx2"
    return "baseline"


def weak_functions(nm, obj):
    out = subprocess.run([nm, "--defined-only", obj], check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "W":  # weak symbol in a text section: a COMDAT function
            names.add(parts[2])
    return names


def encoding(byte_field):
    """'evex', 'vex' or None for the first line of one disassembled instruction."""
    for b in byte_field.split():
        if b in LEGACY_PREFIXES:
            continue
        if b == "62":  # BOUND is invalid in 64-bit mode: 62 is always EVEX there
            return "evex"
        if b in ("c4", "c5"):  # LES / LDS are invalid in 64-bit mode: always VEX
            return "vex"
        return None
    return None


def is_static_init(name):
    return name.startswith(STATIC_INIT)


def function_encodings(objdump, obj, wanted):
    """{mangled name: set of 'vex' / 'evex' used} for the functions `wanted(name)` accepts, and
    whether the object holds any machine code at all."""
    out = subprocess.run([objdump, "-d", "-w", obj], check=True, capture_output=True, text=True).stdout
    found, current, any_code = {}, None, False
    for line in out.splitlines():
        m = FUNC.match(line)
        if m:
            any_code = True
            current = m.group(1) if wanted(m.group(1)) else None
            if current is not None:
                found.setdefault(current, set())
            continue
        if current is None:
            continue
        m = INSN.match(line)
        if m:
            enc = encoding(m.group(1))
            if enc:
                found[current].add(enc)
    return found, any_code


def forbidden(narrowest, encs):
    if narrowest == "baseline":
        return sorted(encs)
    if narrowest == "avx2":
        return sorted(encs & {"evex"})
    return []


def check(objects, objdump="objdump", nm="nm"):
    """List of violation messages (empty when the objects are safe to link in any order)."""
    defs = defaultdict(list)  # weak function -> [(level, object)]
    for obj in objects:
        for name in weak_functions(nm, obj):
            defs[name].append((isa_level(obj), obj))
    shared = {name: where for name, where in defs.items() if len({lvl for lvl, _ in where}) > 1}
    by_object = defaultdict(set)
    for name, where in shared.items():
        for _, obj in where:
            by_object[obj].add(name)
    problems, encodings = [], {}
    for obj in objects:
        level = isa_level(obj)
        if level == "baseline":  # only the wider copies matter (and baseline objects may be LTO IR)
            continue
        names = by_object.get(obj, set())
        found, any_code = function_encodings(objdump, obj, lambda n: n in names or is_static_init(n))
        encodings[obj] = found
        if not any_code:
            problems.append(f"{obj} ({level}) holds no machine code (LTO bytecode?): compile the ISA "
                            f"files with -fno-lto, so their code can be checked and their static "
                            f"initializers are not merged into the module's constructor")
        for name, encs in sorted(found.items()):
            if is_static_init(name) and encs:
                problems.append(f"{name} in {obj} ({level}): a static initializer, run when the module "
                                f"loads on any CPU, uses {'/'.join(e.upper() for e in sorted(encs))} "
                                f"instructions; keep dynamic initialization out of ISA files "
                                f"(constexpr kernel sets, registration only)")
    for name, where in sorted(shared.items()):
        narrowest = min((lvl for lvl, _ in where), key=LEVELS.get)
        for lvl, obj in where:
            if lvl == narrowest:
                continue
            bad = forbidden(narrowest, encodings[obj].get(name, set()))
            if bad:
                problems.append(f"{name}: weak in a {narrowest} object and in {obj} ({lvl}), whose "
                                f"copy uses {'/'.join(e.upper() for e in bad)} instructions; the "
                                f"linker keeps one copy for every path")
    return problems


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objdump", default="objdump")
    p.add_argument("--nm", default="nm")
    p.add_argument("objects", nargs="+")
    args = p.parse_args(argv)
    problems = check(args.objects, args.objdump, args.nm)
    for msg in problems:
        print("check_isa_comdat: " + msg, file=sys.stderr)
    if problems:
        print(f"check_isa_comdat: {len(problems)} problem(s): wider-ISA code that could run on a "
              f"narrower path (ARCHITECTURE.md, the kernel section)", file=sys.stderr)
        return 1
    print(f"check_isa_comdat: {len(args.objects)} objects: no weak function shared across ISA levels "
          f"with wider instructions, no wide instruction in an ISA file's static initializer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
