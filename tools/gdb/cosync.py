# gdb commands for cosync: list this thread's coroutines and show the
# backtraces of suspended ones, in a live process or a core file.
#
#   (gdb) source tools/gdb/cosync.py
#   (gdb) cosync-list
#   (gdb) cosync-bt 17
#   (gdb) cosync-bt all
#
# Both only read memory: no function of the program is called and no
# register written, so they work on a core file (gcore, or a crash's core)
# as on a live process. cosync-bt needs the assembly switch (not
# COSYNC_CONTEXT=ucontext): an unwinder hands gdb the coroutine's saved
# registers (the frame layout of include/cosync/impl/context_frame_*.h,
# read from the source tree this script sits in) as the caller of the
# innermost frame, and the backtrace is printed from there.
import os
import re

import gdb
from gdb.unwinder import Unwinder, register_unwinder

STATES = {0: "created", 1: "running", 2: "suspended", 3: "finished"}

# Where the assembly switch saves the resume registers, relative to the
# saved context token, is read from the frame-layout headers the switch
# itself is assembled from. Keyed by the ABI in the header's name
# (context_frame_<abi>.h): the macro prefix, the pc and frame-pointer
# fields, and gdb's names of the pc, stack pointer and frame pointer
# registers. The x86_64 and i386 entries are exercised by a test
# (tests/gdb_test.sh runs where gdb runs the target natively).
FRAME_LAYOUTS = {
    "x86_64_sysv": ("X86_64", "RIP", "RBP", ("rip", "rsp", "rbp")),
    "aarch64_aapcs": ("AARCH64", "PC", "X29", ("pc", "sp", "x29")),
    "riscv64_lp64d": ("RISCV64", "PC", "S0", ("pc", "sp", "s0")),
    "arm_aapcs_vfp": ("ARM", "PC", "R11", ("pc", "sp", "r11")),
    "i386_sysv": ("I386", "PC", "EBP", ("eip", "esp", "ebp")),
    "ppc64le_elfv2": ("PPC64LE", "PC", "R31", ("pc", "r1", "r31")),
    "s390x_sysv": ("S390X", "PC", "R11", ("pswa", "r15", "r11")),
    "mips64_n64": ("MIPS64", "PC", "FP", ("pc", "sp", "s8")),
}
# gdb's architecture names, several per ABI.
ARCH_ABIS = {
    "i386:x86-64": "x86_64_sysv",
    "aarch64": "aarch64_aapcs",
    "riscv:rv64": "riscv64_lp64d",
    "arm": "arm_aapcs_vfp",
    "armv7": "arm_aapcs_vfp",
    "i386": "i386_sysv",
    "powerpc:common64": "ppc64le_elfv2",
    "s390:64-bit": "s390x_sysv",
    "mips:isa64": "mips64_n64",
    "mips:isa64r2": "mips64_n64",
}
HEADER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "..", "..", "include", "cosync", "impl")


def frame_layout(arch):
    """(pc offset, frame pointer offset, token-to-stack-pointer distance, registers)."""
    if arch not in ARCH_ABIS:
        raise gdb.GdbError("cosync: no frame layout for %s" % arch)
    abi = ARCH_ABIS[arch]
    name, pc, fp, registers = FRAME_LAYOUTS[abi]
    prefix = "COSYNC_%s_FRAME_" % name
    path = os.path.join(HEADER_DIR, "context_frame_%s.h" % abi)
    try:
        with open(path) as text:
            source = text.read()
    except OSError as error:
        raise gdb.GdbError("cosync: cannot read the frame layout %s (%s); source this "
                           "script from the cosync source tree" % (path, error.strerror))
    offsets = {name: int(value, 0) for name, value in
               re.findall(r"^#define %s(\w+)\s+(0x[0-9a-fA-F]+|\d+)" % prefix,
                          source, re.MULTILINE)}
    return offsets[pc], offsets[fp], offsets["SIZE"], registers


def parse_as_cxx(expression):
    # Parsed as C++ even when the selected frame is C (a libpcl program).
    language = gdb.parameter("language")
    gdb.execute("set language c++", to_string=True)
    try:
        return gdb.parse_and_eval(expression)
    finally:
        gdb.execute("set language %s" % language, to_string=True)


def thread_state():
    state = parse_as_cxx("cosync::impl::t_state")
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


def peak_of(coroutine):
    """Bytes from the stack top to the coroutine's stack pointer: the one it
    is suspended at, or the thread's for the running one (a lower bound of
    the peak: PeakMethod::stack_pointer), as Coroutine::stack_peak starts."""
    stack = coroutine["stack_"]
    base = int(stack["base"])
    top = base + int(stack["size"])
    state = state_of(coroutine)
    sp = 0
    if state == "suspended":
        sp = int(coroutine["context_"])
    elif state == "running":
        sp = int(gdb.newest_frame().read_register("sp"))
    return top - sp if base <= sp < top else 0


def describe(coroutine):
    stack = coroutine["stack_"]
    return "#%d %-24s %-9s stack [0x%x, 0x%x) peak>=%d KiB" % (
        int(coroutine["id_"]),
        '"%s"' % coroutine["name_"].string(),
        state_of(coroutine),
        int(stack["base"]),
        int(stack["base"]) + int(stack["size"]),
        (peak_of(coroutine) + 1023) // 1024,
    )


def uses_ucontext():
    # The assembly back ends define the entry trampoline; ucontext does not.
    try:
        gdb.parse_and_eval("(long)&cosync_context_trampoline")
        return False
    except gdb.error:
        return True


class FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class SavedContextUnwinder(Unwinder):
    """While `target` is set, makes the registers a suspended context saved
    the caller of the innermost frame."""

    def __init__(self):
        super().__init__("cosync-saved-context")
        self.target = None  # {register name: value}

    def __call__(self, pending_frame):
        if self.target is None or pending_frame.level() != 0:
            return None
        pc_name, sp_name = self.target["names"]
        pc = pending_frame.read_register(pc_name)
        # The innermost frame's id takes the saved stack pointer: gdb stops a
        # backtrace whose caller lies below its callee ("previous frame
        # inner to this frame"), and the coroutine's stack may lie anywhere
        # relative to the thread's, while its first frame (an assembly
        # switch that saved it, as libcosync-pcl's) sits above that pointer.
        sp = pending_frame.read_register(sp_name)
        sp = gdb.Value(self.target["registers"][sp_name]).cast(sp.type)
        info = pending_frame.create_unwind_info(FrameId(sp, pc))
        for name, value in self.target["registers"].items():
            register_type = pending_frame.read_register(name).type
            info.add_saved_register(name, gdb.Value(value).cast(register_type))
        return info


UNWINDER = SavedContextUnwinder()
register_unwinder(None, UNWINDER, replace=True)


def saved_registers(coroutine):
    arch = gdb.selected_frame().architecture().name()
    pc_at, fp_at, size, (pc_name, sp_name, fp_name) = frame_layout(arch)
    token = int(coroutine["context_"])
    word = gdb.lookup_type("unsigned long").pointer()

    def read(offset):
        return int(gdb.Value(token + offset).cast(word).dereference())

    return {"names": (pc_name, sp_name),
            "registers": {pc_name: read(pc_at), sp_name: token + size, fp_name: read(fp_at)}}


def saved_backtrace(coroutine):
    """The backtrace of a suspended context, renumbered from #0."""
    UNWINDER.target = saved_registers(coroutine)
    gdb.invalidate_cached_frames()
    try:
        text = gdb.execute("backtrace", to_string=True)
    finally:
        UNWINDER.target = None
        gdb.invalidate_cached_frames()
    frames = re.split(r"^(?=#\d+ )", text, flags=re.MULTILINE)
    kept = [frame for frame in frames if frame.startswith("#")][1:]
    return "".join(re.sub(r"^#(\d+) +", lambda m: ("#%d" % (int(m.group(1)) - 1)).ljust(4),
                          frame) for frame in kept)


def backtrace_of(coroutine):
    state = state_of(coroutine)
    if state == "running":
        return gdb.execute("backtrace", to_string=True)
    if state != "suspended":
        return "(%s: no frames)\n" % state
    if uses_ucontext():
        raise gdb.GdbError("cosync: cosync-bt reads the assembly switch's frame; "
                           "this program uses the ucontext back end")
    return saved_backtrace(coroutine)


class ListCoroutines(gdb.Command):
    """List the live cosync coroutines of the selected thread, with how deep
    each is suspended in its stack (a lower bound of its peak)."""

    def __init__(self):
        super().__init__("cosync-list", gdb.COMMAND_STACK)

    def invoke(self, argument, from_tty):
        count = 0
        for coroutine in coroutines():
            print(describe(coroutine))
            count += 1
        print("%d live coroutines" % count)


class CoroutineBacktrace(gdb.Command):
    """Show the backtrace of a cosync coroutine: cosync-bt ID, or cosync-bt all
    for every coroutine of the selected thread (and its main context when a
    coroutine is running)."""

    def __init__(self):
        super().__init__("cosync-bt", gdb.COMMAND_STACK)

    def invoke(self, argument, from_tty):
        if argument.strip() == "all":
            return self.show_all()
        try:
            wanted = int(argument)
        except ValueError:
            raise gdb.GdbError("cosync: usage: cosync-bt ID | cosync-bt all")
        for coroutine in coroutines():
            if int(coroutine["id_"]) == wanted:
                print(describe(coroutine))
                print(backtrace_of(coroutine), end="")
                return
        raise gdb.GdbError("cosync: no live coroutine #%d on this thread" % wanted)

    def show_all(self):
        state = thread_state()
        if int(state["current"]) != int(state["main"]):
            main = state["main"].dereference()
            print("#%d \"main\" suspended" % int(main["id_"]))
            print(saved_backtrace(main))
        for coroutine in coroutines():
            print(describe(coroutine))
            print(backtrace_of(coroutine))


ListCoroutines()
CoroutineBacktrace()
