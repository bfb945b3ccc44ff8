/* The commands of ovrctl, one file per noun or role (cmd_node.c, cmd_app.c, ...). */
#ifndef OVR_CMD_H
#define OVR_CMD_H

#include "ctl.h"

int cmd_node_token(struct ctl *ctl, int argc, char **argv);
int cmd_node_ls(struct ctl *ctl, int argc, char **argv);
int cmd_node_get(struct ctl *ctl, int argc, char **argv);
int cmd_node_revoke(struct ctl *ctl, int argc, char **argv);
int cmd_node_label(struct ctl *ctl, int argc, char **argv);
int cmd_version(struct ctl *ctl, int argc, char **argv);

int cmd_app_create(struct ctl *ctl, int argc, char **argv);
int cmd_app_get(struct ctl *ctl, int argc, char **argv);
int cmd_app_ls(struct ctl *ctl, int argc, char **argv);
int cmd_app_rm(struct ctl *ctl, int argc, char **argv);
int cmd_app_update(struct ctl *ctl, int argc, char **argv);
int cmd_app_endpoints(struct ctl *ctl, int argc, char **argv);
int cmd_deploy(struct ctl *ctl, int argc, char **argv);
int cmd_rollback(struct ctl *ctl, int argc, char **argv);
int cmd_versions(struct ctl *ctl, int argc, char **argv);
int cmd_version_show(struct ctl *ctl, int argc, char **argv);
int cmd_diff(struct ctl *ctl, int argc, char **argv);

int cmd_deployment_get(struct ctl *ctl, int argc, char **argv);
int cmd_deployment_watch(struct ctl *ctl, int argc, char **argv);

int cmd_logs(struct ctl *ctl, int argc, char **argv);

int cmd_secret_set(struct ctl *ctl, int argc, char **argv);
int cmd_secret_ls(struct ctl *ctl, int argc, char **argv);
int cmd_secret_rm(struct ctl *ctl, int argc, char **argv);
int cmd_audit_ls(struct ctl *ctl, int argc, char **argv);
int cmd_audit_verify(struct ctl *ctl, int argc, char **argv);

int cmd_lint(struct ctl *ctl, int argc, char **argv);

int cmd_token_create(struct ctl *ctl, int argc, char **argv);
int cmd_token_ls(struct ctl *ctl, int argc, char **argv);
int cmd_token_revoke(struct ctl *ctl, int argc, char **argv);

#endif
