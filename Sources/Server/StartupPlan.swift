import ShardRouter

/// Everything the node needs to start, validated: who it is, who its peers are, its config
/// and where its data goes. Building one does all the checks that can fail on operator input,
/// so a bad setup stops the node before it opens a socket.
struct StartupPlan: Sendable {
    let selfAddress: NodeAddress
    private(set) var membership: Membership
    private(set) var config: NodeConfig
    let dataDirectory: String
    private(set) var shardMap: ShardMap
    /// The host the node's sockets listen on: the `bind` setting, else its own membership
    /// line's host (a name resolves when the socket is bound). Its identity and the address it
    /// advertises (MOVED, CLUSTER SLOTS, the shard map) stay `selfAddress` either way.
    var listenHost: String { config.bind ?? selfAddress.host }
    /// Deliberate bugs; set only from the hidden `--unsafe-planted-bug` flag, never by `make`.
    var plantedBugs = PlantedBugs()

    /// Default config file, used only when it exists (an explicit `--config` must exist).
    static let defaultConfigPath = "config/mystore.conf"

    /// Reads and validates the inputs; `dataDirectoryFlag` overrides the config's data_dir.
    static func make(
        selfAddress selfText: String,
        membershipPath: String,
        configPath: String?,
        dataDirectoryFlag: String?,
        overrides: [String],
        environment: [String: String],
        joining: Bool = false
    ) throws(StartupError) -> StartupPlan {
        let selfAddress: NodeAddress
        do {
            selfAddress = try NodeAddress(parsing: selfText)
        } catch {
            throw StartupError("--self: \(error)")
        }

        var membership: Membership
        if joining && !LocalFiles.exists(membershipPath) {
            // A joining node learns the founding membership from the cluster.
            membership = try! Membership(nodes: [selfAddress])
        } else {
            let membershipText = try LocalFiles.readText(membershipPath, what: "membership file")
            do {
                membership = try Membership(parsing: membershipText, source: membershipPath)
            } catch {
                throw StartupError(error.description)
            }
        }
        guard joining || membership.contains(selfAddress) else {
            let members = membership.nodes.map(\.description).joined(separator: ", ")
            throw StartupError("--self \(selfAddress) is not listed in \(membershipPath) (members: \(members); "
                               + "a node is its membership line as written: give --self that line, name or address, not what it resolves to)")
        }

        var file: (text: String, name: String)?
        if let path = configPath ?? (LocalFiles.exists(defaultConfigPath) ? defaultConfigPath : nil) {
            file = (try LocalFiles.readText(path, what: "config file"), path)
        }
        let config: NodeConfig
        do {
            config = try NodeConfig.load(file: file, environment: environment, overrides: overrides)
        } catch {
            throw StartupError(error.description)
        }

        var shardMap: ShardMap
        if joining {
            shardMap = try! ShardMap(shards: [])
        } else { do {
            shardMap = try Placement.initial(
                nodes: membership.nodes,
                shardCount: config.shardCount,
                replicationFactor: config.replicationFactor
            )
        } catch {
            throw StartupError("config: \(error)")
        } }

        let dataDirectory = dataDirectoryFlag ?? config.dataDir ?? "data/\(selfAddress.pathComponent)"
        return StartupPlan(
            selfAddress: selfAddress,
            membership: membership,
            config: config,
            dataDirectory: dataDirectory,
            shardMap: shardMap
        )
    }

    /// The plan of a node that joined a running cluster: the cluster's founding membership,
    /// shard count and replication factor replace the local ones, so the meta group's log
    /// replays on the same initial layout as everywhere else.
    func rebased(on b: JoinInfo.Bootstrap) throws(StartupError) -> StartupPlan {
        var plan = self
        do {
            plan.membership = try Membership(nodes: b.members)
            plan.config.shardCount = b.shardCount
            plan.config.replicationFactor = b.replicationFactor
            plan.shardMap = try Placement.initial(nodes: b.members, shardCount: b.shardCount, replicationFactor: b.replicationFactor)
        } catch {
            throw StartupError("the cluster's founding layout is invalid: \(error)")
        }
        return plan
    }
}
