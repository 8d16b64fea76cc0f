// Kept trivial: closures here would be main-actor isolated (see Supervisor.swift for signals and threads).
SluiceCommand.main()
