/* The commands of ovrctl, one file per noun (cmd_node.c, ...). */
#ifndef OVR_CMD_H
#define OVR_CMD_H

#include "ctl.h"

int cmd_node_token(struct ctl *ctl, int argc, char **argv);
int cmd_node_ls(struct ctl *ctl, int argc, char **argv);
int cmd_node_get(struct ctl *ctl, int argc, char **argv);
int cmd_node_revoke(struct ctl *ctl, int argc, char **argv);
int cmd_node_label(struct ctl *ctl, int argc, char **argv);
int cmd_version(struct ctl *ctl, int argc, char **argv);

#endif
