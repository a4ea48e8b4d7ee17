from mailflow.cli import main

if __name__ == "__main__":  # a compose worker (spawned) imports this module, and must not run it
    main()
