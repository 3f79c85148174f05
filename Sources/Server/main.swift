import ArgumentParser
import NodeLogging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Every startup failure is one line on stderr and a non-zero exit, so scripts and service
// managers show the operator exactly what to fix; `--help` and `--version` print as usual.
do {
    let command = try ServerCommand.parse()
    try await command.start()
} catch let error as StartupError {
    writeAll("mystore-server: \(error)\n", to: 2)
    exit(1)
} catch {
    let code = ServerCommand.exitCode(for: error)
    if code == .success { ServerCommand.exit(withError: error) }
    let message = ServerCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    writeAll("mystore-server: \(message)\n", to: 2)
    exit(code == .success ? 1 : code.rawValue)
}
