/// One key as the store returns it.
public struct FleetKeyValue: Sendable, Equatable {
    /// The key.
    public var key: String
    /// The value (empty for keys-only reads).
    public var value: [UInt8]
    /// Revision that created the key (the leader key's is the fencing token).
    public var createRevision: Int64
    /// Revision of the last write to the key (compare-and-swap token).
    public var modRevision: Int64
    /// Lease the key is bound to, 0 for none.
    public var lease: Int64

    /// Creates a key-value.
    public init(key: String, value: [UInt8], createRevision: Int64, modRevision: Int64, lease: Int64) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.lease = lease
    }
}

/// A condition of a transaction. For a key that does not exist both revisions compare as 0.
public enum FleetCompare: Sendable, Equatable {
    /// The key's last write was at this revision.
    case modRevision(String, Int64)
    /// The key was created at this revision.
    case createRevision(String, Int64)
}

/// An operation of a transaction.
public enum FleetOperation: Sendable, Equatable {
    /// Write `value` at `key`, bound to `lease` when given.
    case put(String, [UInt8], lease: Int64?)
    /// Read `key`.
    case get(String)
}

/// What a transaction did.
public struct FleetTxnResult: Sendable, Equatable {
    /// Whether every compare held (the success branch ran).
    public var succeeded: Bool
    /// Store revision after the transaction.
    public var revision: Int64
    /// The keys read by the branch's `get` operations, one list per `get`, in order.
    public var reads: [[FleetKeyValue]]

    /// Creates a result.
    public init(succeeded: Bool, revision: Int64, reads: [[FleetKeyValue]]) {
        self.succeeded = succeeded
        self.revision = revision
        self.reads = reads
    }
}

/// A store call that failed: unreachable, timed out, or an answer that makes no sense.
public struct FleetStoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, naming the endpoint.
    public var message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}

/// An event from a watch.
public struct FleetWatchEvent: Sendable, Equatable {
    /// The key written or deleted (`kv.value` empty for a delete).
    public var kv: FleetKeyValue
    /// Whether the key was deleted (or expired with its lease).
    public var deleted: Bool

    /// Creates an event.
    public init(kv: FleetKeyValue, deleted: Bool) {
        self.kv = kv
        self.deleted = deleted
    }
}

/// The small interface the fleet needs from a consistent store: reads, compare-and-swap transactions,
/// leases and a watch. ``EtcdStore`` speaks etcd v3; a Kubernetes store (a Lease object for the leader key,
/// a ConfigMap's resourceVersion for the compare-and-swap) could implement the same calls.
/// Implementations are used from one thread at a time (the fleet agent's); a watch uses its own connection.
public protocol FleetStore: AnyObject {
    /// The keys equal to `key`, or starting with `key` when `prefix`; with `keysOnly` values are empty.
    /// Returns them with the store revision of the read.
    func get(_ key: String, prefix: Bool, keysOnly: Bool) throws(FleetStoreError) -> (kvs: [FleetKeyValue], revision: Int64)
    /// Runs `success` when every compare holds, else `failure`, atomically.
    func txn(_ compares: [FleetCompare], success: [FleetOperation], failure: [FleetOperation]) throws(FleetStoreError) -> FleetTxnResult
    /// Grants a lease of `ttlSeconds`; returns its id.
    func grantLease(ttlSeconds: Int) throws(FleetStoreError) -> Int64
    /// Renews a lease; false when it no longer exists.
    func keepAlive(_ lease: Int64) throws(FleetStoreError) -> Bool
    /// Revokes a lease (its keys disappear at once).
    func revoke(_ lease: Int64) throws(FleetStoreError)
    /// Streams the changes to keys starting with `prefix` from revision `from` on, calling `onEvents` for each
    /// batch until it returns false, `keepGoing` (asked about once a second while idle) returns false, or the
    /// stream breaks (thrown). Blocks; run it on a thread of its own.
    func watch(prefix: String, from: Int64, onEvents: ([FleetWatchEvent], Int64) -> Bool, keepGoing: () -> Bool) throws(FleetStoreError)
}
