# gdb commands for cosync: list this thread's coroutines and show the
# backtrace of a suspended one.
#
#   (gdb) source tools/gdb/cosync.py
#   (gdb) cosync-list
#   (gdb) cosync-bt 17
#
# cosync-bt works on a live process built with the assembly switch (not
# COSYNC_CONTEXT=ucontext): it points the registers at the
# coroutine's saved context (the frame layout of src/context/switch_*.S),
# prints the backtrace, and puts the registers back.
import gdb

STATES = {0: "created", 1: "running", 2: "suspended", 3: "finished"}

# Where the assembly switch saves the resume registers, relative to the
# saved context token: (pc offset, frame pointer offset, distance from the
# token to the suspended stack pointer).
FRAMES = {
    "i386:x86-64": (0x10, 0x08, 0xA0),
    "aarch64": (0xA0, 0x90, 0xB0),
}


def thread_state():
    # Parsed as C++ even when the selected frame is C (a libpcl program).
    language = gdb.parameter("language")
    gdb.execute("set language c++", to_string=True)
    try:
        state = gdb.parse_and_eval("cosync::detail::t_state")
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
        if arch not in FRAMES:
            raise gdb.GdbError("cosync: no frame layout for %s" % arch)
        pc_at, fp_at, size = FRAMES[arch]
        sp = int(coroutine["context_"])
        word = gdb.lookup_type("unsigned long").pointer()
        read = lambda offset: int(gdb.Value(sp + offset).cast(word).dereference())
        fp_register = "$rbp" if arch == "i386:x86-64" else "$x29"
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
