import ArgumentParser
import MyStoreClient

/// `mystore put KEY VALUE`: sets a key (exactly once, even when retried).
struct PutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Set KEY to VALUE.")

    @Argument(help: "The key.") var key: String
    @Argument(help: "The value.") var value: String
    @OptionGroup var cluster: ClusterOptions

    struct Result: Codable, Hashable { var key: String; var set: Bool }

    func run() throws {
        let client = try cluster.client()
        let set = try client.set(Array(key.utf8), Array(value.utf8))
        print(cluster.json ? try Output.json(Result(key: key, set: set)) : "OK")
    }
}
