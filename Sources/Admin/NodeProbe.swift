#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ShardRouter

/// Asks one node whether it answers: connects, sends a RESP `PING`, expects `+PONG`.
/// Blocking and one-shot, which is all an admin command checking a handful of nodes needs.
enum NodeProbe {
    /// Bound on connecting, and separately on awaiting the reply. Default 1 (seconds).
    static let defaultTimeoutSeconds = 1

    /// The round-trip time in milliseconds, or why the node did not answer.
    static func ping(_ node: NodeAddress, timeoutSeconds: Int = defaultTimeoutSeconds) -> Result<Double, ProbeError> {
        let started = ContinuousClock.now
        let socket: Int32
        switch connect(to: node, timeoutSeconds: timeoutSeconds) {
        case .success(let connected): socket = connected
        case .failure(let error): return .failure(error)
        }
        defer { close(socket) }

        let request = Array("*1\r\n$4\r\nPING\r\n".utf8)
        guard send(socket, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else {
            return .failure(ProbeError("send failed: \(systemError())"))
        }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        while !reply.contains(UInt8(ascii: "\n")), reply.count < 4096 {
            let count = recv(socket, &chunk, chunk.count, 0)
            if count > 0 {
                reply += chunk[0..<count]
            } else if count == 0 {
                return .failure(ProbeError("connection closed before a reply"))
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return .failure(ProbeError("no reply within \(timeoutSeconds)s"))
            } else if errno != EINTR {
                return .failure(ProbeError("receive failed: \(systemError())"))
            }
        }
        let line = String(decoding: reply.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        guard line == "+PONG" else {
            return .failure(ProbeError("unexpected reply \"\(line.prefix(80))\""))
        }
        let elapsed = ContinuousClock.now - started
        return .success(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
    }

    /// A connected TCP socket with send and receive timeouts set (Linux also applies the send
    /// timeout to `connect`).
    private static func connect(to node: NodeAddress, timeoutSeconds: Int) -> Result<Int32, ProbeError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(node.host, String(node.port), &hints, &list)
        guard status == 0, let first = list else {
            return .failure(ProbeError("cannot resolve \(node.host): \(String(cString: gai_strerror(status)))"))
        }
        defer { freeaddrinfo(list) }

        var lastError = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            guard fd >= 0 else { lastError = systemError(); continue }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                return .success(fd)
            }
            lastError = errno == EINPROGRESS || errno == EAGAIN ? "no connection within \(timeoutSeconds)s" : systemError()
            close(fd)
        }
        return .failure(ProbeError(lastError))
    }

    private static func systemError() -> String { String(cString: strerror(errno)) }
}

/// Why a node did not answer a probe.
struct ProbeError: Error, Hashable, Sendable, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
