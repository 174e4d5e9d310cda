/*
 * commands.h - the subcommands of ibdrv-install. Each takes the arguments
 * after its name (argv[0] is the subcommand) and returns the Azure extension
 * code: 0 success, 3010 reboot required, 100 not supported / could not be
 * done, 240 or 840 timed out, -1 unexpected failure. main() turns it into a
 * process exit status (POSIX keeps 8 bits: 3010 -> 194, 840 -> 72, -1 -> 255).
 */
#ifndef IBDRV_INSTALLER_COMMANDS_H
#define IBDRV_INSTALLER_COMMANDS_H

enum ib_ext_code {
	IB_EXT_SUCCESS = 0,
	IB_EXT_REBOOT = 3010,
	IB_EXT_UNSUPPORTED = 100,
	IB_EXT_TIMEOUT_LOCK = 240,
	IB_EXT_TIMEOUT = 840,
	IB_EXT_EXCEPTION = -1
};

int cmd_detect(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_apply(int argc, char **argv);
/* The guest agent's handler protocol: argv[0] is install|enable|disable|uninstall|update. */
int cmd_handler(int argc, char **argv);
/* The detached worker that enable starts (internal). */
int cmd_worker(int argc, char **argv);

/* Maps an IB_E* code to the extension code (IB_ETIMEOUT 840, IB_EBUSY 240, ...). */
int ib_ext_code_from_err(int rc);

#endif
