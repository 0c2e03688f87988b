# gdb commands for cosync: list this thread's coroutines and show the
# backtrace of a suspended one.
#
#   (gdb) source tools/gdb/cosync.py
#   (gdb) cosync-list
#   (gdb) cosync-bt 17
#
# cosync-bt works on a live process built with the assembly switch (not
# COSYNC_CONTEXT=ucontext): it points the registers at the coroutine's saved
# context (the frame layout of include/cosync/impl/context_frame_*.h, read
# from the source tree this script sits in), prints the backtrace, and puts
# the registers back.
import os
import re

import gdb

STATES = {0: "created", 1: "running", 2: "suspended", 3: "finished"}

# Where the assembly switch saves the resume registers, relative to the
# saved context token, is read from the frame-layout headers the switch
# itself is assembled from: per gdb architecture, the header, its macro
# prefix, the pc and frame-pointer fields and the frame-pointer register.
# Only the x86_64 entry is exercised by a test (tests/gdb_test.sh runs where
# gdb runs the target natively).
FRAME_HEADERS = {
    "i386:x86-64": ("context_frame_x86_64_sysv.h", "COSYNC_X86_64_FRAME_", "RIP", "RBP", "$rbp"),
    "aarch64": ("context_frame_aarch64_aapcs.h", "COSYNC_AARCH64_FRAME_", "PC", "X29", "$x29"),
    "riscv:rv64": ("context_frame_riscv64_lp64d.h", "COSYNC_RISCV64_FRAME_", "PC", "S0", "$s0"),
    "arm": ("context_frame_arm_aapcs_vfp.h", "COSYNC_ARM_FRAME_", "PC", "R11", "$r11"),
    "armv7": ("context_frame_arm_aapcs_vfp.h", "COSYNC_ARM_FRAME_", "PC", "R11", "$r11"),
    "i386": ("context_frame_i386_sysv.h", "COSYNC_I386_FRAME_", "PC", "EBP", "$ebp"),
    "powerpc:common64": ("context_frame_ppc64le_elfv2.h", "COSYNC_PPC64LE_FRAME_", "PC", "R31",
                         "$r31"),
    "s390:64-bit": ("context_frame_s390x_sysv.h", "COSYNC_S390X_FRAME_", "PC", "R11", "$r11"),
    "mips:isa64": ("context_frame_mips64_n64.h", "COSYNC_MIPS64_FRAME_", "PC", "FP", "$s8"),
    "mips:isa64r2": ("context_frame_mips64_n64.h", "COSYNC_MIPS64_FRAME_", "PC", "FP", "$s8"),
}
HEADER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "..", "..", "include", "cosync", "impl")


def frame_layout(arch):
    """(pc offset, frame pointer offset, token-to-stack-pointer distance, fp register)."""
    if arch not in FRAME_HEADERS:
        raise gdb.GdbError("cosync: no frame layout for %s" % arch)
    header, prefix, pc, fp, fp_register = FRAME_HEADERS[arch]
    path = os.path.join(HEADER_DIR, header)
    try:
        with open(path) as text:
            source = text.read()
    except OSError as error:
        raise gdb.GdbError("cosync: cannot read the frame layout %s (%s); source this "
                           "script from the cosync source tree" % (path, error.strerror))
    offsets = {name: int(value, 0) for name, value in
               re.findall(r"^#define %s(\w+)\s+(0x[0-9a-fA-F]+|\d+)" % prefix,
                          source, re.MULTILINE)}
    return offsets[pc], offsets[fp], offsets["SIZE"], fp_register


def thread_state():
    # Parsed as C++ even when the selected frame is C (a libpcl program).
    language = gdb.parameter("language")
    gdb.execute("set language c++", to_string=True)
    try:
        state = gdb.parse_and_eval("cosync::impl::t_state")
    finally:
        gdb.execute("set language %s" % language, to_string=True)
    if int(state) == 0:
        raise gdb.GdbError("cosync: this thread has not used cosync")
    return state.dereference()


def coroutines():
    # The registry holds each control block's record (its base at offset 0).
    node = thread_state()["registry"]["head_"]
    while int(node) != 0:
        coroutine = node.dereference()
        yield coroutine
        node = coroutine["next"]


def state_of(coroutine):
    # state_ never holds "running": the running context is the thread's
    # current one (Coroutine::state()).
    state = STATES.get(int(coroutine["state_"]), "?")
    if state == "suspended" and int(thread_state()["current"]) == int(coroutine.address):
        return "running"
    return state


def describe(coroutine):
    stack = coroutine["stack_"]
    state = state_of(coroutine)
    return "#%d %-24s %-9s stack [0x%x, 0x%x)" % (
        int(coroutine["id_"]),
        '"%s"' % coroutine["name_"].string(),
        state,
        int(stack["base"]),
        int(stack["base"]) + int(stack["size"]),
    )


def backend():
    try:
        return gdb.parse_and_eval("cosync::context::backend_name()").string()
    except gdb.error:
        return "unknown"


class ListCoroutines(gdb.Command):
    """List the live cosync coroutines of the selected thread."""

    def __init__(self):
        super().__init__("cosync-list", gdb.COMMAND_STACK)

    def invoke(self, argument, from_tty):
        count = 0
        for coroutine in coroutines():
            print(describe(coroutine))
            count += 1
        print("%d live coroutines" % count)


class CoroutineBacktrace(gdb.Command):
    """Show the backtrace of a suspended cosync coroutine: cosync-bt ID."""

    def __init__(self):
        super().__init__("cosync-bt", gdb.COMMAND_STACK)

    def invoke(self, argument, from_tty):
        wanted = int(argument)
        for coroutine in coroutines():
            if int(coroutine["id_"]) == wanted:
                return self.show(coroutine)
        raise gdb.GdbError("cosync: no live coroutine #%d on this thread" % wanted)

    def show(self, coroutine):
        if state_of(coroutine) != "suspended":
            raise gdb.GdbError("cosync: only a suspended coroutine has a saved context")
        if backend() == "ucontext":
            raise gdb.GdbError("cosync: cosync-bt reads the assembly switch's frame; "
                               "this program uses the ucontext back end")
        arch = gdb.selected_frame().architecture().name()
        pc_at, fp_at, size, fp_register = frame_layout(arch)
        sp = int(coroutine["context_"])
        word = gdb.lookup_type("unsigned long").pointer()  # a register's width
        read = lambda offset: int(gdb.Value(sp + offset).cast(word).dereference())
        saved = {r: int(gdb.parse_and_eval(r)) for r in ("$pc", "$sp", fp_register)}
        print(describe(coroutine))
        try:
            gdb.execute("set $pc = %d" % read(pc_at))
            gdb.execute("set $sp = %d" % (sp + size))
            gdb.execute("set %s = %d" % (fp_register, read(fp_at)))
            gdb.execute("backtrace")
        finally:
            for register, value in saved.items():
                gdb.execute("set %s = %d" % (register, value))


ListCoroutines()
CoroutineBacktrace()
