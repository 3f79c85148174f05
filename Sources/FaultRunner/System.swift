import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SystemClock

/// The monotonic clock in nanoseconds, as history times (signed).
func historyNanos() -> Int64 { Int64(monotonicNanos()) }

func sleepSeconds(_ s: Double) {
    if s > 0 { usleep(UInt32(min(s, 3600) * 1_000_000)) }
}

/// Finds an executable on PATH (plus the sbin folders, where `ip` and `iptables` live).
func which(_ name: String) -> String? {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
    for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
        return "\(dir)/\(name)"
    }
    return nil
}

struct CommandFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs a command to completion (at most `timeout` seconds) and returns its status and output.
@discardableResult
func run(_ args: [String], timeout: Double = 30, check: Bool = true) throws -> (status: Int32, output: String) {
    guard let exe = args.first.flatMap({ $0.hasPrefix("/") ? $0 : which($0) }) else {
        throw CommandFailure(description: "command not found: \(args.first ?? "")")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = Array(args.dropFirst())
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(5_000) }
    if p.isRunning {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        throw CommandFailure(description: "timed out after \(timeout) s: \(args.joined(separator: " "))")
    }
    p.waitUntilExit()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    if check && p.terminationStatus != 0 {
        throw CommandFailure(description: "\(args.joined(separator: " ")) exited \(p.terminationStatus): \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
    return (p.terminationStatus, output)
}

/// A lock-protected value shared between threads.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    var current: Value { withLock { $0 } }
}

/// Console lines with the time since the run started.
final class Log: @unchecked Sendable {
    let start = historyNanos()
    private let lock = NSLock()
    var quiet = false

    func seconds() -> Double { Double(historyNanos() - start) / 1e9 }

    func say(_ line: String) {
        guard !quiet else { return }
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardError.write(Data(String(format: "[%7.1fs] ", seconds()).utf8 + Array((line + "\n").utf8)))
    }
}

let log = Log()
