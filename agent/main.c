/* placeholder main, replaced as the program is written */
int main(void);
int main(void)
{
	return 0;
}
