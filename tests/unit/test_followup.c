/* Follow-up reports: one per healthy streak of the deployment the server expects, at its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "followup.h"

static void test_one_followup_per_streak(void **state)
{
	struct followups *f = followups_new();

	(void)state;
	assert_non_null(f);
	followups_expect(f, "shop", "d1", 10000);
	/* Not healthy yet: nothing to follow up. */
	assert_int_equal(followups_note(f, "shop", "d1", 0, 100), 0);
	/* Healthy at 500: a report once the window and the margin are over. */
	assert_int_equal(followups_note(f, "shop", "d1", 1, 500), 500 + 10000 + FOLLOWUP_MARGIN_MS);
	/* Still healthy: already planned. */
	assert_int_equal(followups_note(f, "shop", "d1", 1, 5000), 0);
	assert_int_equal(followups_note(f, "shop", "d1", 1, 11600), 0);
	/* A break starts a new streak, with its own follow-up. */
	assert_int_equal(followups_note(f, "shop", "d1", 0, 12000), 0);
	assert_int_equal(followups_note(f, "shop", "d1", 1, 13000), 13000 + 10000 + FOLLOWUP_MARGIN_MS);
	followups_free(f);
}

static void test_only_the_expected_deployment(void **state)
{
	struct followups *f = followups_new();

	(void)state;
	/* Apps and deployments the server did not ask about are not followed up. */
	assert_int_equal(followups_note(f, "shop", "d1", 1, 100), 0);
	followups_expect(f, "shop", "d1", 2000);
	assert_int_equal(followups_note(f, "shop", "d0", 1, 100), 0);
	assert_int_equal(followups_note(f, "shop", "d1", 1, 100), 100 + 2000 + FOLLOWUP_MARGIN_MS);
	/* The same deployment again (a later Sync) keeps the streak; a new one starts over. */
	followups_expect(f, "shop", "d1", 2000);
	assert_int_equal(followups_note(f, "shop", "d1", 1, 200), 0);
	followups_expect(f, "shop", "d2", 0);
	assert_int_equal(followups_note(f, "shop", "d2", 1, 300), 300 + FOLLOWUP_MARGIN_MS);
	/* A removed app is forgotten: nothing is followed up for it any more. */
	followups_expect(f, "blog", "d3", 1000);
	followups_forget(f, "shop");
	assert_int_equal(followups_note(f, "shop", "d2", 0, 400), 0);
	assert_int_equal(followups_note(f, "shop", "d2", 1, 500), 0);
	assert_int_equal(followups_note(f, "blog", "d3", 1, 500), 500 + 1000 + FOLLOWUP_MARGIN_MS);
	followups_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_one_followup_per_streak),
	        cmocka_unit_test(test_only_the_expected_deployment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
