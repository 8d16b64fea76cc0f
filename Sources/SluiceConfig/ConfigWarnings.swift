extension SluiceConfig {
    /// Settings that are valid but probably unsafe, one operator-facing sentence each (without a
    /// `warning:` prefix). `sluice validate` and `sluice run` print them on standard error and keep
    /// their exit status; both call this one function so they always agree.
    ///
    /// Today there is one: an admin listener on a non-loopback address without `token_file`, which
    /// lets anyone who can reach the port change weights, roll back and reload.
    public func warnings() -> [String] {
        var out: [String] = []
        if let admin, admin.tokenFile == nil, !Addresses.isLoopback(admin.host) {
            let host = admin.host.contains(":") ? "[\(admin.host)]" : admin.host
            out.append("admin.address \(host):\(admin.port) is not a loopback address and admin.token_file is not set: "
                + "anyone who can reach that port can change weights, roll back and reload. "
                + "Bind the admin API to 127.0.0.1 (or [::1]) or set admin.token_file.")
        }
        return out
    }
}
