import CEpoll
import Histogram
import MyStoreClient
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import SystemClock

/// What each request of a run does.
enum Workload: String, Sendable {
    case put, get, mixed, cas
}

/// Everything a worker thread needs to build requests; shared read-only by all workers.
final class RequestShape: @unchecked Sendable {
    let workload: Workload
    let keyCount: Int
    let keySize: Int
    let valueSize: Int
    /// Reads per 1000 requests in `mixed`.
    let readPerMille: Int
    /// Every key, `keySize` bytes each, back to back: key i is `key:000…i`.
    let keys: [UInt8]
    /// The value every SET writes (for `cas`, a version number replaces its first 20 bytes).
    let value: [UInt8]
    /// Per key, the version a `cas` connection last wrote (0: unknown). Each key belongs to
    /// one connection, so no two threads touch the same slot.
    let versions: UnsafeMutablePointer<UInt32>

    let setHeader: [UInt8]
    let valueHeader: [UInt8]
    let getHeader: [UInt8]
    let casHeader: [UInt8]
    let ifeqHeader: [UInt8]

    init(workload: Workload, keyCount: Int, keySize: Int, valueSize: Int, readRatio: Double) {
        self.workload = workload
        self.keyCount = keyCount
        self.keySize = keySize
        self.valueSize = valueSize
        readPerMille = Int((readRatio * 1000).rounded())
        var k = [UInt8]()
        k.reserveCapacity(keyCount * keySize)
        for i in 0..<keyCount { k += Self.key(i, size: keySize) }
        keys = k
        value = [UInt8](repeating: UInt8(ascii: "v"), count: valueSize)
        versions = .allocate(capacity: keyCount)
        versions.initialize(repeating: 0, count: keyCount)
        setHeader = Array("*3\r\n$3\r\nSET\r\n$\(keySize)\r\n".utf8)
        valueHeader = Array("\r\n$\(valueSize)\r\n".utf8)
        getHeader = Array("*2\r\n$3\r\nGET\r\n$\(keySize)\r\n".utf8)
        casHeader = Array("*5\r\n$3\r\nSET\r\n$\(keySize)\r\n".utf8)
        ifeqHeader = Array("\r\n$4\r\nIFEQ\r\n$\(valueSize)\r\n".utf8)
    }

    deinit { versions.deallocate() }

    /// `key:` then the number, zero-padded to `size` bytes (longer numbers are not cut).
    static func key(_ i: Int, size: Int) -> [UInt8] {
        let digits = Array(String(i).utf8)
        let prefix = Array("key:".utf8)
        let pad = max(0, size - prefix.count - digits.count)
        return Array((prefix + [UInt8](repeating: UInt8(ascii: "0"), count: pad) + digits).prefix(max(size, prefix.count + digits.count)))
    }
}

/// Counters a worker publishes for the progress line and the stop condition.
final class WorkerCounters: Sendable {
    let ops = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
}

/// One client connection: a non-blocking socket, its send and receive buffers and the
/// requests in flight (send time and what they were, in order).
final class BenchConnection {
    let fd: Int32
    /// The keys this connection draws from (indices into the shape's key list).
    let keyPool: [Int32]
    var sendBuffer: [UInt8] = []
    var receive: [UInt8]
    var receiveEnd = 0
    var parsePosition = 0
    /// Ring of in-flight requests: send time (ns), kind (0 write, 1 read, 2 cas, 3 cas-set) and key.
    var sentAt: [UInt64]
    var kinds: [UInt8]
    var keyOf: [Int32]
    var head = 0
    var inFlight = 0
    var rng: UInt64

    init(fd: Int32, keyPool: [Int32], pipeline: Int, seed: UInt64) {
        self.fd = fd
        self.keyPool = keyPool
        receive = [UInt8](repeating: 0, count: 256 * 1024)
        sentAt = [UInt64](repeating: 0, count: pipeline)
        kinds = [UInt8](repeating: 0, count: pipeline)
        keyOf = [Int32](repeating: 0, count: pipeline)
        rng = seed | 1
        sendBuffer.reserveCapacity(pipeline * 1024)
    }

    @inline(__always) func random() -> UInt64 {
        // xorshift64*
        rng ^= rng >> 12
        rng ^= rng << 25
        rng ^= rng >> 27
        return rng &* 2_685_821_657_736_338_717
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Phases of a run, set by the main thread, read by the workers.
enum Phase: Int {
    case warmup = 0, measure = 1, stop = 2
}

/// State the main thread and the workers share.
final class RunControl: Sendable {
    let phase: Atomic<Int>
    /// Requests still to send when the run is bounded by count.
    let remaining: Atomic<Int>
    let bounded: Bool
    /// Workers that have finished.
    let done = Atomic<Int>(0)

    init(startMeasuring: Bool, count: Int?) {
        phase = Atomic(startMeasuring ? Phase.measure.rawValue : Phase.warmup.rawValue)
        remaining = Atomic(count ?? 0)
        bounded = count != nil
    }
}

/// Writes `s` to standard error, unbuffered.
func eprint(_ s: String) {
    var s = s
    s.withUTF8 { b in _ = write(2, b.baseAddress, b.count) }
}

/// One thread driving a set of connections with `epoll`: each connection keeps `pipeline`
/// requests in flight; replies are counted and timed in batches (one clock read per read
/// call and per write), so a request costs a memcpy of its bytes and a few integer steps.
final class Worker: @unchecked Sendable {
    let shape: RequestShape
    let connections: [BenchConnection]
    let pipeline: Int
    let control: RunControl
    let counters = WorkerCounters()
    /// Latency in microseconds of replies received while measuring.
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    var casHits = 0
    var casMisses = 0
    var firstError: String?
    var failure: String?
    /// Finds where each reply ends and whether it is an error, without building it.
    let replies = RESPParser()

    init(shape: RequestShape, connections: [BenchConnection], pipeline: Int, control: RunControl) {
        self.shape = shape
        self.connections = connections
        self.pipeline = pipeline
        self.control = control
    }

    func run() {
        // epoll, not poll: a wait costs the same whatever the number of connections, so the
        // load generator's CPU per request does not grow when replies arrive a few at a time.
        let epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epfd >= 0 else {
            failure = "epoll_create1: \(String(cString: strerror(errno)))"
            return
        }
        defer { close(epfd) }
        for (i, c) in connections.enumerated() {
            var ev = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: UInt64(i)))
            guard epoll_ctl(epfd, EPOLL_CTL_ADD, c.fd, &ev) == 0 else {
                failure = "epoll_ctl: \(String(cString: strerror(errno)))"
                for c in connections { close(c.fd) }
                return
            }
        }
        var events = [epoll_event](repeating: epoll_event(), count: max(1, min(connections.count, 1024)))
        for c in connections { refill(c, measuring: control.phase.load(ordering: .relaxed) == Phase.measure.rawValue) }
        var idle = 0
        while true {
            let p = control.phase.load(ordering: .relaxed)
            if p == Phase.stop.rawValue { break }
            // A count-bounded run is over for this worker once the count is used up and its
            // replies are in, also when its connections never got a request (a count below
            // the connection count) and so never see an event.
            if control.bounded && p == Phase.measure.rawValue && control.remaining.load(ordering: .relaxed) <= 0
                && connections.allSatisfy({ $0.inFlight == 0 }) { break }
            let n = epoll_wait(epfd, &events, Int32(events.count), 100)
            if n < 0 && errno != EINTR { failure = "epoll_wait: \(String(cString: strerror(errno)))"; break }
            if n <= 0 {
                idle += 1
                continue
            }
            let measuring = p == Phase.measure.rawValue
            for k in 0..<Int(n) {
                let c = connections[Int(events[k].data.u64)]
                if !readReplies(c, measuring: measuring) {
                    failure = failure ?? "connection closed by the server"
                    _ = epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nil)
                    continue
                }
                refill(c, measuring: measuring)
            }
            if control.bounded && connections.allSatisfy({ $0.inFlight == 0 }) { break }
        }
        for c in connections { close(c.fd) }
    }

    /// Reads what is there and consumes every complete reply; false when the peer closed.
    private func readReplies(_ c: BenchConnection, measuring: Bool) -> Bool {
        if c.receiveEnd == c.receive.count {
            // Buffer full of an incomplete reply: grow (only for huge values).
            c.receive += [UInt8](repeating: 0, count: c.receive.count)
        }
        let got = c.receive.withUnsafeMutableBytes { buf in
            Glibc.read(c.fd, buf.baseAddress! + c.receiveEnd, buf.count - c.receiveEnd)
        }
        if got == 0 { return false }
        if got < 0 { return errno == EAGAIN || errno == EINTR }
        c.receiveEnd += got
        let t = monotonicNanos()
        var done = 0
        var errors = 0
        var malformed: RESPError?
        c.receive.withUnsafeBufferPointer { buf in
            while c.inFlight > 0 {
                let scanned: (end: Int, kind: RESPReply.Kind)?
                do throws(RESPError) {
                    scanned = try replies.skipReply(UnsafeRawBufferPointer(buf), from: c.parsePosition, to: c.receiveEnd)
                } catch {
                    malformed = error
                    break
                }
                guard let (end, kind) = scanned else { break }
                let slot = c.head
                let requestKind = c.kinds[slot]
                if kind == .error {
                    errors += 1
                    if firstError == nil {
                        firstError = String(decoding: UnsafeBufferPointer(rebasing: buf[(c.parsePosition + 1)..<max(c.parsePosition + 1, end - 2)]), as: UTF8.self)
                    }
                    if requestKind >= 2 { shape.versions[Int(c.keyOf[slot])] = 0 }
                } else if requestKind == 2 {
                    if kind == .null || kind == .nullArray {
                        if measuring { casMisses += 1 }
                        shape.versions[Int(c.keyOf[slot])] = 0
                    } else if measuring {
                        casHits += 1
                    }
                }
                if measuring {
                    let us = (t &- c.sentAt[slot]) / 1000
                    _ = histogram.record(max(1, us))
                }
                c.parsePosition = end
                c.head = (c.head + 1) % pipeline
                c.inFlight -= 1
                done += 1
            }
        }
        if let malformed {
            failure = failure ?? "reply from the server: \(malformed)"
            return false
        }
        if c.parsePosition == c.receiveEnd {
            c.parsePosition = 0
            c.receiveEnd = 0
        } else if c.parsePosition > c.receive.count / 2 {
            let rest = c.receiveEnd - c.parsePosition
            c.receive.withUnsafeMutableBytes { b in
                _ = memmove(b.baseAddress!, b.baseAddress! + c.parsePosition, rest)
            }
            c.parsePosition = 0
            c.receiveEnd = rest
        }
        if measuring && done > 0 { counters.ops.add(done, ordering: .relaxed) }
        if errors > 0 { counters.errors.add(errors, ordering: .relaxed) }
        return true
    }

    /// Tops the connection up to `pipeline` requests in flight, written with one send.
    private func refill(_ c: BenchConnection, measuring: Bool) {
        var want = pipeline - c.inFlight
        guard want > 0, control.phase.load(ordering: .relaxed) != Phase.stop.rawValue else { return }
        if control.bounded && measuring {
            let left = control.remaining.subtract(want, ordering: .relaxed).newValue
            if left < 0 {
                want = max(0, want + left)
                if want == 0 { return }
            }
        }
        c.sendBuffer.removeAll(keepingCapacity: true)
        let t = monotonicNanos()
        for _ in 0..<want {
            let r = c.random()
            let key = Int(c.keyPool[Int(r % UInt64(c.keyPool.count))])
            var kind: UInt8 = 0
            switch shape.workload {
            case .put: encodeSet(c, key: key)
            case .get: encodeGet(c, key: key); kind = 1
            case .mixed:
                if Int((r >> 40) % 1000) < shape.readPerMille { encodeGet(c, key: key); kind = 1 } else { encodeSet(c, key: key) }
            case .cas:
                let v = shape.versions[key]
                if v == 0 {
                    encodeVersionedSet(c, key: key, version: 1)
                    shape.versions[key] = 1
                    kind = 3
                } else {
                    encodeCas(c, key: key, old: v, new: v &+ 1 == 0 ? 1 : v &+ 1)
                    shape.versions[key] = v &+ 1 == 0 ? 1 : v &+ 1
                    kind = 2
                }
            }
            let slot = (c.head + c.inFlight) % pipeline
            c.sentAt[slot] = t
            c.kinds[slot] = kind
            c.keyOf[slot] = Int32(key)
            c.inFlight += 1
        }
        writeAll(c)
    }

    private func writeAll(_ c: BenchConnection) {
        var offset = 0
        let total = c.sendBuffer.count
        c.sendBuffer.withUnsafeBytes { buf in
            while offset < total {
                let n = Glibc.write(c.fd, buf.baseAddress! + offset, total - offset)
                if n > 0 { offset += n; continue }
                if n < 0 && (errno == EAGAIN || errno == EINTR) {
                    var p = pollfd(fd: c.fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&p, 1, 1000)
                    if control.phase.load(ordering: .relaxed) == Phase.stop.rawValue { return }
                    continue
                }
                failure = failure ?? "write: \(String(cString: strerror(errno)))"
                return
            }
        }
    }

    @inline(__always) private func appendKey(_ c: BenchConnection, _ key: Int) {
        let ks = shape.keySize
        shape.keys.withUnsafeBufferPointer { k in
            c.sendBuffer.append(contentsOf: UnsafeBufferPointer(rebasing: k[(key * ks)..<(key * ks + ks)]))
        }
    }

    @inline(__always) private func appendValue(_ c: BenchConnection, version: UInt32?) {
        guard let version else { return c.sendBuffer.append(contentsOf: shape.value) }
        // The version, decimal and zero-padded to 10 bytes, then the fixed filler.
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (48, 48, 48, 48, 48, 48, 48, 48, 48, 48)
        var v = version
        withUnsafeMutableBytes(of: &digits) { d in
            var i = 9
            while v > 0 && i >= 0 { d[i] = UInt8(48 + v % 10); v /= 10; i -= 1 }
            let n = min(10, shape.valueSize)
            c.sendBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[0..<n]))
        }
        if shape.valueSize > 10 {
            shape.value.withUnsafeBufferPointer { c.sendBuffer.append(contentsOf: UnsafeBufferPointer(rebasing: $0[10...])) }
        }
    }

    private func encodeSet(_ c: BenchConnection, key: Int) {
        c.sendBuffer.append(contentsOf: shape.setHeader)
        appendKey(c, key)
        c.sendBuffer.append(contentsOf: shape.valueHeader)
        appendValue(c, version: nil)
        c.sendBuffer.append(13); c.sendBuffer.append(10)
    }

    private func encodeVersionedSet(_ c: BenchConnection, key: Int, version: UInt32) {
        c.sendBuffer.append(contentsOf: shape.setHeader)
        appendKey(c, key)
        c.sendBuffer.append(contentsOf: shape.valueHeader)
        appendValue(c, version: version)
        c.sendBuffer.append(13); c.sendBuffer.append(10)
    }

    private func encodeGet(_ c: BenchConnection, key: Int) {
        c.sendBuffer.append(contentsOf: shape.getHeader)
        appendKey(c, key)
        c.sendBuffer.append(13); c.sendBuffer.append(10)
    }

    private func encodeCas(_ c: BenchConnection, key: Int, old: UInt32, new: UInt32) {
        c.sendBuffer.append(contentsOf: shape.casHeader)
        appendKey(c, key)
        c.sendBuffer.append(contentsOf: shape.valueHeader)
        appendValue(c, version: new)
        c.sendBuffer.append(contentsOf: shape.ifeqHeader)
        appendValue(c, version: old)
        c.sendBuffer.append(13); c.sendBuffer.append(10)
    }
}

/// CPU seconds (user + system) a process used so far, from /proc/PID/stat; nil when gone.
func processCPUSeconds(_ pid: Int32) -> Double? {
    guard let f = fopen("/proc/\(pid)/stat", "r") else { return nil }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 4096)
    guard fgets(&line, 4096, f) != nil else { return nil }
    let s = String(cString: line)
    // Fields after the command name, which is in parentheses and may hold spaces.
    guard let close = s.lastIndex(of: ")") else { return nil }
    let fields = s[s.index(after: close)...].split(separator: " ")
    // fields[0] is the state (field 3); utime is field 14, stime field 15.
    guard fields.count > 13, let u = Double(fields[11]), let st = Double(fields[12]) else { return nil }
    return (u + st) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// This process's CPU seconds (user + system).
func selfCPUSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}

/// PIDs of running processes whose command name is `name`.
func findProcesses(named name: String) -> [Int32] {
    guard let dir = opendir("/proc") else { return [] }
    defer { closedir(dir) }
    var pids: [Int32] = []
    while let entry = readdir(dir) {
        let d = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let pid = Int32(d), let f = fopen("/proc/\(pid)/comm", "r") else { continue }
        var buf = [CChar](repeating: 0, count: 64)
        if fgets(&buf, 64, f) != nil, String(cString: buf).trimmingCharacters(in: "\n") == String(name.prefix(15)) { pids.append(pid) }
        fclose(f)
    }
    return pids.sorted()
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
