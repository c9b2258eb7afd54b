/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterctl-cmd-settings.c: "settings list|get|show|set|unset". */
#include "clusterctl/clusterctl.h"

static const struct ctl_command cmd_list, cmd_get, cmd_show, cmd_set, cmd_unset;

static int list_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_table_ struct ctl_table *t = NULL;
        json_object *settings;
        int r, idx;

        r = ctl_parse_options(ctl, &cmd_list, argc, argv, NULL, NULL, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 0, 0, "", argv + idx, e);
        if (r < 0)
                return r;
        r = ctl_call(ctl, "GET", "/v1/settings", NULL, &reply, e);
        if (r < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        if (json_get_array(reply, "settings", true, &settings, e) < 0)
                return err_set(e, -EBADMSG, "invalid reply to GET /v1/settings");
        t = ctl_table_new("KEY", "VALUE", "DEFAULT", "TYPE", NULL);
        for (size_t i = 0; i < json_object_array_length(settings); i++) {
                json_object *s = json_object_array_get_idx(settings, i);
                ctl_table_add_field(t, s, "key");
                ctl_table_add_field(t, s, "value");
                ctl_table_add_field(t, s, "default");
                ctl_table_add_field(t, s, "type");
        }
        ctl_table_print(t, stdout);
        return 0;
}

/* get, show and unset: one KEY, one request, the setting in reply. */
static int one_setting(struct ctl *ctl, const struct ctl_command *cmd, const char *method, int argc, char *argv[],
                       json_object *body, json_object **ret, struct err *e) {
        _cleanup_free_ char *path = NULL;
        int n_args = body ? 2 : 1;
        int r, idx;

        r = ctl_parse_options(ctl, cmd, argc, argv, NULL, NULL, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, n_args, n_args, body ? "KEY VALUE" : "KEY", argv + idx, e);
        if (r < 0)
                return r;
        if (!*argv[idx])
                return ctl_usage(e, "empty setting key");
        /* The value always goes as a string, in the notation of the CLI
         * ("5000", "true", "90s"): the server knows the type and converts. */
        if (body)
                json_add_string(body, "value", argv[idx + 1]);
        path = ctl_path("settings/", argv[idx], NULL);
        return ctl_call(ctl, method, path, body, ret, e);
}

/* The value alone, for scripts: "$(clusterctl settings get KEY)". */
static int get_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_free_ char *text = NULL;
        json_object *value;
        int r;

        r = one_setting(ctl, &cmd_get, "GET", argc, argv, NULL, &reply, e);
        if (r != 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        if (!json_object_object_get_ex(reply, "value", &value))
                return err_set(e, -EBADMSG, "invalid reply: the setting has no 'value'");
        /* Unlike a table, no "-" for nothing: a script wants the empty string. */
        text = value ? ctl_json_text(value) : xstrdup("");
        puts(text);
        return 0;
}

static int show_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        int r;

        r = one_setting(ctl, &cmd_show, "GET", argc, argv, NULL, &reply, e);
        if (r != 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON)
                ctl_print_json(reply, stdout);
        else
                ctl_print_object_table(reply, stdout);
        return 0;
}

static int set_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *body = json_object_new_object(), *reply = NULL;
        _cleanup_free_ char *value = NULL;
        int r;

        r = one_setting(ctl, &cmd_set, "PUT", argc, argv, body, &reply, e);
        if (r != 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        value = ctl_json_text(ctl_json_get(reply, "value"));
        printf("Setting '%s' set to %s.\n", ctl_json_str(reply, "key") ?: "?", value);
        return 0;
}

static int unset_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_free_ char *value = NULL;
        const char *key;
        int r;

        r = one_setting(ctl, &cmd_unset, "DELETE", argc, argv, NULL, &reply, e);
        if (r != 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        key = ctl_json_str(reply, "key") ?: "?";
        if (startswith(key, "user.")) {
                printf("Setting '%s' removed.\n", key);
                return 0;
        }
        value = ctl_json_text(ctl_json_get(reply, "value"));
        printf("Setting '%s' returned to its default, %s.\n", key, value);
        return 0;
}

static const struct ctl_command cmd_list = {
        .name = "list",
        .path = "settings list",
        .summary = "List the cluster-wide settings",
        .help = "Lists every cluster-wide setting with its value, default and type.\n"
                "-o json prints GET /v1/settings (with descriptions, limits, who changed what).\n",
        .run = list_run,
};

static const struct ctl_command cmd_get = {
        .name = "get",
        .path = "settings get",
        .args = "KEY",
        .summary = "Print a setting's value alone (for scripts)",
        .help = "Prints the value of one setting and nothing else (an empty line for none), for\n"
                "scripts. -o json prints the whole setting.\n",
        .run = get_run,
};

static const struct ctl_command cmd_show = {
        .name = "show",
        .path = "settings show",
        .args = "KEY",
        .summary = "Show every field of a setting",
        .help = "Shows one setting: value, default, type, limits, description, last change.\n",
        .run = show_run,
};

static const struct ctl_command cmd_set = {
        .name = "set",
        .path = "settings set",
        .args = "KEY VALUE",
        .summary = "Change a setting",
        .help = "Sets KEY to VALUE on the whole cluster. VALUE is written as on the command line\n"
                "(5000, true, 90s) and checked by the server against the setting's type and\n"
                "limits. Keys under 'user.' are free-form strings for operators.\n"
                "A VALUE that begins with '-' goes after '--': settings set KEY -- -1\n"
                "\n"
                "Example:\n"
                "  clusterctl settings set events.max-entries 5000\n",
        .run = set_run,
};

static const struct ctl_command cmd_unset = {
        .name = "unset",
        .path = "settings unset",
        .args = "KEY",
        .summary = "Return a setting to its default",
        .help = "Returns a setting to its default on the whole cluster; a 'user.' key is removed.\n",
        .run = unset_run,
};

const struct ctl_command ctl_cmd_settings = {
        .name = "settings",
        .path = "settings",
        .summary = "Show and change cluster-wide settings",
        .help = "Shows and changes the cluster-wide settings (replicated to every node).\n",
        .verbs = (const struct ctl_command *const[]){ &cmd_list, &cmd_get, &cmd_show, &cmd_set, &cmd_unset, NULL },
        .default_verb = "list",
};
