/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-roles.c: role definitions: defaults, validation messages, the
 * canonical form, and edits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "clusterd/roles-int.h"

static json_object *parse(const char *text) {
        json_object *o = NULL;
        struct err e = {};
        if (json_parse_object(text, strlen(text), &o, &e) < 0)
                fail_msg("bad test JSON: %s", e.msg);
        return o;
}

static void def_ok(const char *text, struct role_def *ret) {
        _cleanup_(json_object_putp) json_object *o = parse(text);
        struct err e = {};
        if (role_def_from_json(o, NULL, ret, &e) < 0)
                fail_msg("refused %s: %s", text, e.msg);
}

static void def_refused(const char *text, const char *words) {
        _cleanup_(json_object_putp) json_object *o = parse(text);
        struct role_def d = {};
        struct err e = {};
        assert_int_equal(role_def_from_json(o, NULL, &d, &e), -EINVAL);
        if (!strstr(e.msg, words))
                fail_msg("message '%s' does not mention '%s' (input %s)", e.msg, words, text);
}

static void test_defaults(void **state) {
        _cleanup_(role_def_done) struct role_def d = {};
        def_ok("{\"name\": \"web\"}", &d);
        assert_string_equal(d.name, "web");
        assert_int_equal(d.priority, PL_PRIORITY_MEDIUM);
        assert_int_equal(d.failover_threshold, 2);
        assert_true(d.failover_period_usec == 6 * USEC_PER_HOUR);
        assert_int_equal(d.restart_threshold, 1);
        assert_int_equal(d.failback, PL_FAILBACK_NEVER);
        assert_true(d.monitor_interval_usec == 10 * USEC_PER_SEC);
        assert_int_equal(d.n_resources, 0);
        assert_int_equal(strv_length(d.preferred), 0);
}

static void test_full_round_trip(void **state) {
        _cleanup_(role_def_done) struct role_def d = {}, d2 = {};
        def_ok("{\"name\": \"db\", \"priority\": \"high\", \"preferred_owners\": [\"n2\", \"n1\"],"
               " \"possible_owners\": [\"n1\", \"n2\", \"n3\"], \"anti_affinity\": [\"sql\"],"
               " \"failover\": {\"threshold\": 3, \"period\": \"1h\"}, \"restart\": {\"threshold\": 0},"
               " \"failback\": {\"policy\": \"window\", \"window\": \"22:00-06:30\"}, \"monitor_interval\": 5,"
               " \"timeouts\": {\"start\": \"2m\"},"
               " \"resources\": [{\"name\": \"vm\", \"agent\": \"vm\","
               "   \"params\": {\"name\": \"db\", \"memory\": 2048, \"vcpus\": \"2\"}},"
               "  {\"name\": \"ip\", \"agent\": \"ocf:heartbeat:IPaddr2\", \"params\": {\"ip\": \"198.18.0.9\"}}]}",
               &d);
        assert_int_equal(d.priority, PL_PRIORITY_HIGH);
        assert_int_equal(d.failback_start_min, 22 * 60);
        assert_int_equal(d.failback_end_min, 6 * 60 + 30);
        assert_true(d.start_timeout_usec == 2 * USEC_PER_MINUTE);
        uint64_t mem;
        uint32_t cpus;
        role_def_demand(&d, &mem, &cpus);
        assert_true(mem == 2048);
        assert_int_equal(cpus, 2);

        /* The canonical form parses back to the same canonical form. */
        _cleanup_(json_object_putp) json_object *j = role_def_to_json(&d);
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
        def_ok(text, &d2);
        _cleanup_(json_object_putp) json_object *j2 = role_def_to_json(&d2);
        assert_string_equal(text, json_object_to_json_string_ext(j2, JSON_C_TO_STRING_PLAIN));
}

static void test_refusals_name_the_field(void **state) {
        def_refused("{}", "name");
        def_refused("{\"name\": \"a b\"}", "'a b'");
        def_refused("{\"name\": \"x\", \"priority\": \"urgent\"}", "priority: 'urgent'");
        def_refused("{\"name\": \"x\", \"colour\": 1}", "unknown field 'colour'");
        def_refused("{\"name\": \"x\", \"failover\": {\"threshold\": -1}}", "failover.threshold");
        def_refused("{\"name\": \"x\", \"failover\": {\"period\": \"soon\"}}", "failover.period: 'soon'");
        def_refused("{\"name\": \"x\", \"failback\": {\"policy\": \"window\"}}", "failback.window");
        def_refused("{\"name\": \"x\", \"failback\": {\"window\": \"24:00-01:00\"}}", "'24:00-01:00'");
        def_refused("{\"name\": \"x\", \"preferred_owners\": [\"n1\", \"n1\"]}", "listed twice");
        def_refused("{\"name\": \"x\", \"preferred_owners\": [\"n4\"], \"possible_owners\": [\"n1\"]}",
                    "'n4' is not among possible_owners");
        def_refused("{\"name\": \"x\", \"monitor_interval\": \"1ms\"}", "too short");
        def_refused("{\"name\": \"x\", \"timeouts\": {\"start\": \"2h\"}}", "at most 1h");
        def_refused("{\"name\": \"x\", \"resources\": [{\"name\": \"v\", \"agent\": \"../sh\"}]}", "agent '../sh'");
        def_refused("{\"name\": \"x\", \"resources\": [{\"name\": \"v\", \"agent\": \"ocf:a:b:c\"}]}", "ocf:a:b:c");
        def_refused("{\"name\": \"x\", \"resources\": [{\"name\": \"v\", \"agent\": \"vm\"}]}", "params.memory");
        def_refused("{\"name\": \"x\", \"resources\": [{\"name\": \"v\", \"agent\": \"vm\","
                    " \"params\": {\"name\": \"v\", \"memory\": \"lots\"}}]}",
                    "'lots'");
        def_refused("{\"name\": \"x\", \"resources\": [{\"name\": \"v\", \"agent\": \"dummy\"},"
                    " {\"name\": \"v\", \"agent\": \"dummy\"}]}",
                    "'v' is listed twice");
        def_refused("{\"name\": \"x\", \"resources\": [{\"name\": \"v\", \"agent\": \"dummy\","
                    " \"params\": {\"bad-name\": 1}}]}",
                    "'bad-name'");
        def_refused("{\"name\": \"x\", \"resources\": [{\"name\": \"v\", \"agent\": \"dummy\","
                    " \"params\": {\"p\": [1]}}]}",
                    "params.p");
}

static void test_edits(void **state) {
        _cleanup_(role_def_done) struct role_def d = {};
        struct err e = {};
        def_ok("{\"name\": \"web\", \"resources\": [{\"name\": \"a\", \"agent\": \"dummy\"}]}", &d);

        _cleanup_(json_object_putp) json_object *patch = parse("{\"priority\": \"low\"}");
        assert_int_equal(role_def_patch(&d, patch, &e), 0);
        assert_int_equal(d.priority, PL_PRIORITY_LOW);

        /* A bad patch leaves the definition as it was. */
        _cleanup_(json_object_putp) json_object *bad = parse("{\"priority\": \"low\", \"failback\": {\"policy\": 1}}");
        assert_true(role_def_patch(&d, bad, &e) < 0);
        assert_int_equal(d.priority, PL_PRIORITY_LOW);
        _cleanup_(json_object_putp) json_object *rename = parse("{\"name\": \"other\"}");
        assert_true(role_def_patch(&d, rename, &e) < 0);

        _cleanup_(json_object_putp) json_object *res = parse("{\"name\": \"b\", \"agent\": \"ipaddr\","
                                                             " \"params\": {\"ip\": \"198.18.0.1\"}}");
        assert_int_equal(role_def_add_resource(&d, res, &e), 0);
        assert_int_equal(d.n_resources, 2);
        assert_string_equal(d.resources[1].name, "b");

        _cleanup_(json_object_putp) json_object *params = parse("{\"cidr_netmask\": \"24\", \"ip\": \"\"}");
        assert_int_equal(role_def_set_resource_params(&d, "b", params, &e), 0);
        assert_null(role_resource_param(&d.resources[1], "ip"));
        assert_string_equal(role_resource_param(&d.resources[1], "cidr_netmask"), "24");
        assert_int_equal(role_def_set_resource_params(&d, "zz", params, &e), -ENOENT);

        assert_int_equal(role_def_remove_resource(&d, "a", &e), 0);
        assert_int_equal(d.n_resources, 1);
        assert_string_equal(d.resources[0].name, "b");
        assert_int_equal(role_def_remove_resource(&d, "a", &e), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_full_round_trip),
                cmocka_unit_test(test_refusals_name_the_field),
                cmocka_unit_test(test_edits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
