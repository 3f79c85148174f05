import ArgumentParser
import Foundation
import Logging
import NodeLogging
import MyStoreClient

// Diagnostics (redirects followed, retries, reconnects) go to stderr through swift-log at
// MYSTORE_LOG_LEVEL (default warning); results go to stdout.
let logLevel = ProcessInfo.processInfo.environment["MYSTORE_LOG_LEVEL"].flatMap { Logger.Level(name: $0) } ?? .warning
NodeLogHandler.bootstrap(level: logLevel, format: .text, node: nil, sink: .standardError)

// Every failure is one line on stderr and a non-zero exit; --help and --version as usual.
do {
    var command = try AdminCommand.parseAsRoot()
    try command.run()
} catch let error as AdminError {
    FileHandle.standardError.write(Data("mystore: \(error)\n".utf8))
    exit(1)
} catch let error as ClientError {
    FileHandle.standardError.write(Data("mystore: \(error)\n".utf8))
    exit(1)
} catch {
    let code = AdminCommand.exitCode(for: error)
    if code == .success { AdminCommand.exit(withError: error) }
    let message = AdminCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    FileHandle.standardError.write(Data("mystore: \(message)\n".utf8))
    exit(code.rawValue)
}
