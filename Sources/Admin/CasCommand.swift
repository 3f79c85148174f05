import ArgumentParser
import MyStoreClient

/// `mystore cas KEY EXPECTED NEW`: compare-and-set (`SET KEY NEW IFEQ EXPECTED`).
struct CasCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cas",
        abstract: "Set KEY to NEW only if its value is EXPECTED (exit 1 otherwise)."
    )

    @Argument(help: "The key.") var key: String
    @Argument(help: "The value the key must have now.") var expected: String
    @Argument(help: "The value to set.") var new: String
    @OptionGroup var cluster: ClusterOptions

    struct Result: Codable, Hashable { var key: String; var set: Bool }

    func run() throws {
        let set = try cluster.client().set(Array(key.utf8), Array(new.utf8), ifEqual: Array(expected.utf8))
        if cluster.json { print(try Output.json(Result(key: key, set: set))) }
        guard set else { throw AdminError("not set: current value differs") }
        if !cluster.json { print("OK") }
    }
}
