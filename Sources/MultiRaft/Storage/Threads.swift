import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` on a new detached OS thread (for blocking work such as streaming a file),
/// named `name` (at most 15 bytes show in `top -H`, `ps -L` and profilers).
@discardableResult
public func detachThread(name: String, _ body: @escaping @Sendable () -> Void) -> Bool { Thread.detach(name: name, body) }

/// Gives the calling thread (only it, not its process) the nice value `nice` (0 = unchanged,
/// up to 19 = lowest priority): background work such as snapshot writes then yields the CPU to
/// the threads serving requests whenever both want it. Best effort: a failure changes nothing.
public func lowerThreadPriority(_ nice: Int32) {
    #if os(Linux)
    guard nice > 0 else { return }
    // On Linux the nice value belongs to each thread, and `who` 0 names the calling one.
    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, min(nice, 19))
    #endif
}

/// A minimal detached OS thread (no Foundation dependency).
enum Thread {
    /// Starts `body` on a new detached thread; false (and `body` never runs) when the system
    /// cannot create one.
    @discardableResult
    static func detach(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
        final class Box: @unchecked Sendable {
            let name: String, body: @Sendable () -> Void
            init(_ n: String, _ b: @escaping @Sendable () -> Void) { name = n; body = b }
        }
        let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
        var tid = pthread_t()
        let created = pthread_create(&tid, nil, { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            #if os(Linux)
            // pthread_setname_np is not imported; the kernel takes the name here too.
            let fd = open("/proc/thread-self/comm", O_WRONLY)
            if fd >= 0 {
                let bytes = Array(b.name.utf8.prefix(15))
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
            #endif
            b.body()
            return nil
        }, box)
        guard created == 0 else {
            Unmanaged<AnyObject>.fromOpaque(box).release()
            return false
        }
        pthread_detach(tid)
        return true
    }
}
