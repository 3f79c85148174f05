import Logging
import MultiRaft
import MyStoreClient
import NIOConcurrencyHelpers
import NIOCore
import ShardRouter
#if canImport(Glibc)
import Glibc
#endif

/// Snapshot transfer between nodes, apart from the Raft connection so a large transfer never
/// delays heartbeats: each transfer opens its own TCP connection to the peer port and sends
/// the snapshot file in chunks of about 1 MiB (each frame CRC-checked), paced to a rate and
/// flow-controlled by the receiver's acknowledgements (at most `window` bytes unacknowledged).
/// The receiver appends to a temporary file, and once the whole file arrived fsyncs it,
/// verifies every snapshot chunk, and only then hands it to the Raft host, which renames it
/// into place. Neither side holds more than a few chunks in memory. A broken transfer leaves
/// nothing behind; the leader retries with a new stream.
final class SnapshotStreams: @unchecked Sendable {
    struct Settings: Sendable {
        var directory: String
        var bytesPerSecond: Int
        var maxReceives: Int
        var chunkBytes = 1 << 20
        var window = 4 << 20
        /// Longest wait for the receiver (connect, acknowledgement, verification).
        var ioTimeout: Duration = .seconds(30)
    }

    /// Transfer counters, shown in `MYSTORE.STATUS` and used by the rebalance progress.
    struct Counters: Sendable {
        var sending = 0
        var receiving = 0
        var bytesSent: UInt64 = 0
        var bytesReceived: UInt64 = 0
        var sent = 0
        var received = 0
        var failed = 0
    }

    let settings: Settings
    let selfNode: NodeID
    let clusterID: UInt64
    private let counters = NIOLockedValueBox(Counters())
    /// Where verified files go: the host, which installs them (set before the transport starts).
    var onSnapshot: @Sendable (_ group: GroupID, _ message: Message, _ file: String) -> Void = { _, _, _ in }

    init(settings: Settings, selfNode: NodeID, clusterID: UInt64) {
        self.settings = settings
        self.selfNode = selfNode
        self.clusterID = clusterID
    }

    var snapshot: Counters { counters.withLockedValue { $0 } }

    // MARK: - Sending (a thread per transfer; blocking I/O bounded by timeouts)

    func send(group: GroupID, message: Message, file path: String, to address: NodeAddress, done: @escaping @Sendable (Bool) -> Void) {
        // Open now: the file may be replaced by a newer snapshot while the stream runs.
        guard let file = try? DurableFile(path: path, mode: .readOnly) else { return done(false) }
        counters.withLockedValue { $0.sending += 1 }
        let box = UncheckedBox(file)
        detachThread(name: "snapshot-send") { [self] in
            let ok: Bool
            do {
                try stream(group: group, message: message, file: box.value, to: address)
                ok = true
            } catch {
                Logs.peer.warning("snapshot of group \(group) to \(address) failed: \(error)", metadata: ["group": "\(group)"])
                ok = false
            }
            counters.withLockedValue {
                $0.sending -= 1
                if ok { $0.sent += 1 } else { $0.failed += 1 }
            }
            done(ok)
        }
    }

    private func stream(group: GroupID, message: Message, file: DurableFile, to address: NodeAddress) throws {
        let timeout = settings.ioTimeout
        let socket = try TCPSocket(connectingTo: address, timeout: .seconds(5))
        let size = UInt64(file.size)
        var reader = FrameReader(socket: socket, timeout: timeout)
        try socket.send(PeerFrame.snapshotBegin(node: selfNode, cluster: clusterID, group: group, message: message, size: size).encoded(),
                        deadline: .now + timeout, timeout: timeout)
        let started = ContinuousClock.now
        var sent: UInt64 = 0
        var acked: UInt64 = 0
        while sent < size {
            let chunk = try file.read(at: Int(sent), count: min(settings.chunkBytes, Int(size - sent)))
            guard !chunk.isEmpty else { throw StreamError("\(file.path) ended at \(sent) of \(size) bytes") }
            try socket.send(PeerFrame.snapshotChunk(chunk).encoded(), deadline: .now + timeout, timeout: timeout)
            sent += UInt64(chunk.count)
            counters.withLockedValue { $0.bytesSent += UInt64(chunk.count) }
            // Flow control: wait for the receiver once too much is unacknowledged.
            while sent - acked > UInt64(settings.window) {
                acked = try reader.ack(expecting: .receiving)
            }
            // Pacing: never ahead of the configured rate.
            if settings.bytesPerSecond > 0 {
                let due = Duration.seconds(Double(sent) / Double(settings.bytesPerSecond))
                let elapsed = ContinuousClock.now - started
                if due > elapsed { try? sleepThread(due - elapsed) }
            }
        }
        try socket.send(PeerFrame.snapshotEnd.encoded(), deadline: .now + timeout, timeout: timeout)
        while try reader.ack(expecting: .done) < size {}
    }

    /// Reads acknowledgement frames from the receiver.
    struct FrameReader {
        let socket: TCPSocket
        let timeout: Duration
        var buffer: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 4096)

        init(socket: TCPSocket, timeout: Duration) {
            self.socket = socket
            self.timeout = timeout
        }

        /// The next acknowledgement's byte count; throws when the receiver refused the stream.
        mutating func ack(expecting: SnapshotAckState) throws -> UInt64 {
            while true {
                if buffer.count >= 8 {
                    let length = Int(buffer[0]) | Int(buffer[1]) << 8 | Int(buffer[2]) << 16 | Int(buffer[3]) << 24
                    guard length >= 1, length <= 1 << 20 else { throw StreamError("receiver sent a frame of \(length) bytes") }
                    if buffer.count >= 8 + length {
                        let body = Array(buffer[8..<(8 + length)])
                        buffer.removeFirst(8 + length)
                        guard case .snapshotAck(let received, let state, let detail) = try PeerFrame.decode(body: body) else {
                            throw StreamError("receiver sent an unexpected frame")
                        }
                        if state == .refused { throw StreamError("receiver refused the snapshot: \(detail)") }
                        if state == expecting || state == .done { return received }
                        continue
                    }
                }
                let n = try socket.receive(into: &scratch, deadline: .now + timeout, timeout: timeout)
                buffer += scratch[0..<n]
            }
        }
    }

    struct StreamError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    // MARK: - Receiving (on the peer connection's event loop; verification on a thread)

    /// One inbound transfer, owned by its connection's handler.
    final class Inbound {
        let group: GroupID
        let message: Message
        let size: UInt64
        let path: String
        let file: DurableFile
        var received: UInt64 = 0
        var finished = false

        init(group: GroupID, message: Message, size: UInt64, path: String, file: DurableFile) {
            self.group = group
            self.message = message
            self.size = size
            self.path = path
            self.file = file
        }
    }

    /// Starts receiving; nil (and the stream is refused with `why`) beyond the limit of
    /// concurrent receives or when the file cannot be created.
    func begin(group: GroupID, message: Message, size: UInt64, from node: NodeID) -> Result<Inbound, StreamError> {
        let admitted = counters.withLockedValue { c -> Bool in
            guard c.receiving < settings.maxReceives else { return false }
            c.receiving += 1
            return true
        }
        guard admitted else { return .failure(StreamError("already receiving \(settings.maxReceives) snapshots")) }
        let path = settings.directory + "/recv-\(group)-\(node)-\(UInt32.random(in: 0...UInt32.max)).recv"
        do {
            try FileSystem.makeDirectory(settings.directory)
            return .success(Inbound(group: group, message: message, size: size, path: path, file: try DurableFile(path: path, mode: .truncateCreate)))
        } catch {
            counters.withLockedValue { $0.receiving -= 1 }
            return .failure(StreamError("cannot create \(path): \(error)"))
        }
    }

    func chunk(_ bytes: [UInt8], into inbound: Inbound) throws {
        guard inbound.received + UInt64(bytes.count) <= inbound.size else {
            throw StreamError("snapshot stream longer than announced (\(inbound.size) bytes)")
        }
        try inbound.file.append(bytes)
        inbound.received += UInt64(bytes.count)
        counters.withLockedValue { $0.bytesReceived += UInt64(bytes.count) }
    }

    /// The whole file arrived: make it durable and verify it off the event loop, then hand it
    /// to the host. `reply` gets the final acknowledgement.
    func finish(_ inbound: Inbound, reply: @escaping @Sendable (PeerFrame) -> Void) {
        inbound.finished = true
        let box = UncheckedBox(inbound)
        detachThread(name: "snapshot-recv") { [self] in
            let inbound = box.value
            do {
                guard inbound.received == inbound.size else {
                    throw StreamError("snapshot stream ended at \(inbound.received) of \(inbound.size) bytes")
                }
                try inbound.file.sync()
                let reader = try SnapshotReader(path: inbound.path)
                guard reader.group == inbound.group, reader.metadata == inbound.message.snapshot?.metadata else {
                    throw StreamError("snapshot file does not match its message")
                }
                while try reader.nextChunk() != nil {}
                counters.withLockedValue { $0.receiving -= 1; $0.received += 1 }
                onSnapshot(inbound.group, inbound.message, inbound.path)
                reply(.snapshotAck(received: inbound.received, state: .done, detail: ""))
            } catch {
                try? FileSystem.remove(inbound.path)
                counters.withLockedValue { $0.receiving -= 1; $0.failed += 1 }
                reply(.snapshotAck(received: inbound.received, state: .refused, detail: "\(error)"))
            }
        }
    }

    /// The connection closed before the end: drop the partial file.
    func abandon(_ inbound: Inbound) {
        guard !inbound.finished else { return }
        inbound.finished = true
        try? FileSystem.remove(inbound.path)
        counters.withLockedValue { $0.receiving -= 1; $0.failed += 1 }
    }
}

/// Moves a non-Sendable value to another thread whose only user it becomes.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}

/// Sleeps the calling (non-event-loop) thread.
func sleepThread(_ d: Duration) throws {
    let (s, a) = d.components
    var ts = timespec(tv_sec: Int(s), tv_nsec: Int(a / 1_000_000_000))
    var rest = timespec()
    while nanosleep(&ts, &rest) != 0 && errno == EINTR { ts = rest }
}
